package pop3

import (
	"github.com/caddy-pop3/caddy-pop3/internal/caddyfilex"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	pop3 {
//		hostname <name>
//		storage <module> [<args...>] {
//			<module options>
//		}
//		auth <module> [<args...>] {
//			<module options>
//		}
//		allow_insecure_auth
//		starttls [{
//			connection_policy {
//				<caddytls connection policy options>
//			}
//		}]
//		implicit_tls [{
//			connection_policy {
//				<caddytls connection policy options>
//			}
//		}]
//		proxy_protocol <cidr>... [{
//			trusted <cidr>...
//			timeout <duration>
//		}]
//		apop
//		idle_timeout <duration>
//		grace_period <duration>
//		<limit directives: see Limits.unmarshalLimit>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		directive := d.Val()
		switch directive {
		case "hostname":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Hostname = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "storage":
			raw, err := caddyfilex.Guest(d, "pop3.storage.")
			if err != nil {
				return err
			}
			h.StorageRaw = raw
		case "auth":
			raw, err := caddyfilex.Guest(d, "pop3.auth.")
			if err != nil {
				return err
			}
			h.AuthRaw = raw
		case "allow_insecure_auth":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.AllowInsecureAuth = true
		case "starttls":
			if h.StartTLS != nil {
				return d.Err("starttls: given twice; put every connection_policy in one starttls block")
			}
			h.StartTLS = new(StartTLS)
			if err := h.StartTLS.unmarshalCaddyfile(d); err != nil {
				return err
			}
		case "implicit_tls":
			if h.ImplicitTLS != nil {
				return d.Err("implicit_tls: given twice; put every connection_policy in one implicit_tls block")
			}
			h.ImplicitTLS = new(ImplicitTLS)
			if err := h.ImplicitTLS.unmarshalCaddyfile(d); err != nil {
				return err
			}
		case "proxy_protocol":
			if h.ProxyProtocol != nil {
				return d.Err("proxy_protocol: given twice; list every trusted proxy in one proxy_protocol")
			}
			h.ProxyProtocol = new(ProxyProtocol)
			if err := h.ProxyProtocol.unmarshalCaddyfile(d); err != nil {
				return err
			}
		case "apop":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.APOP = true
		case "idle_timeout":
			dur, err := caddyfilex.Duration(d)
			if err != nil {
				return err
			}
			h.IdleTimeout = caddy.Duration(dur)
		case "grace_period":
			dur, err := caddyfilex.Duration(d)
			if err != nil {
				return err
			}
			h.GracePeriod = caddy.Duration(dur)
		default:
			if ok, err := h.Limits.unmarshalLimit(d); ok {
				if err != nil {
					return err
				}
				continue
			}
			return d.Errf("unrecognized pop3 subdirective '%s'", directive)
		}
	}
	return nil
}
