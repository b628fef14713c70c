package lmtp

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"

	"github.com/caddy-pop3/caddy-pop3/internal/caddyfilex"
)

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	lmtp {
//		hostname <name>
//		storage <module> [<args...>] [{ <module options> }]
//		auth <module> [<args...>] [{ <module options> }]
//		strip_domain
//		domains <domain>...
//		max_message_size <size>
//		max_recipients <n>
//		trace_headers on|off
//		trusted_networks <cidr>...
//		client_auth
//		proxy_protocol <cidr>... [{
//			trusted <cidr>...
//			timeout <duration>
//		}]
//		starttls [{ connection_policy { ... } }]
//		implicit_tls [{ connection_policy { ... } }]
//		max_line_length <n>
//		idle_timeout <duration>
//		max_connections <n>|off
//		max_connections_per_ip <n>|off
//		grace_period <duration>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		parse, ok := directives[name]
		if !ok {
			return d.Errf("lmtp: unrecognized subdirective '%s'", name)
		}
		if seen[name] && name != "trusted_networks" && name != "domains" {
			return d.Errf("%s: already set", name)
		}
		seen[name] = true
		if err := parse(h, d); err != nil {
			return err
		}
	}
	return nil
}

// directives are the subdirectives of lmtp; each parses its line (and
// block) with the dispenser on its name.
var directives = map[string]func(h *Handler, d *caddyfile.Dispenser) error{
	"hostname": func(h *Handler, d *caddyfile.Dispenser) error { return oneArg(d, &h.Hostname) },
	"storage": func(h *Handler, d *caddyfile.Dispenser) error {
		raw, err := caddyfilex.Guest(d, "pop3.storage.")
		h.StorageRaw = raw
		return err
	},
	"auth": func(h *Handler, d *caddyfile.Dispenser) error {
		raw, err := caddyfilex.Guest(d, "pop3.auth.")
		h.AuthRaw = raw
		return err
	},
	"strip_domain": func(h *Handler, d *caddyfile.Dispenser) error {
		h.StripDomain = true
		return noArgs(d)
	},
	"domains": func(h *Handler, d *caddyfile.Dispenser) error {
		return listArgs(d, &h.Domains)
	},
	"client_auth": func(h *Handler, d *caddyfile.Dispenser) error {
		h.ClientAuth = true
		return noArgs(d)
	},
	"trusted_networks": func(h *Handler, d *caddyfile.Dispenser) error {
		return listArgs(d, &h.TrustedNetworks)
	},
	"max_message_size": func(h *Handler, d *caddyfile.Dispenser) error {
		var s string
		if err := oneArg(d, &s); err != nil {
			return err
		}
		n, err := humanize.ParseBytes(s)
		if err != nil || n == 0 || n > 1<<40 {
			return d.Errf("max_message_size: invalid size '%s' (for example 50MiB)", s)
		}
		h.MaxMessageSize = int64(n)
		return nil
	},
	"max_recipients": func(h *Handler, d *caddyfile.Dispenser) error {
		return count(d, &h.MaxRecipients, false)
	},
	"trace_headers": func(h *Handler, d *caddyfile.Dispenser) error {
		var s string
		if err := oneArg(d, &s); err != nil {
			return err
		}
		on := s == "on"
		if !on && s != "off" {
			return d.Errf("trace_headers: expected on or off, got '%s'", s)
		}
		h.TraceHeaders = &on
		return nil
	},
	"proxy_protocol": func(h *Handler, d *caddyfile.Dispenser) error {
		p := &ProxyProtocol{Trusted: d.RemainingArgs()}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch d.Val() {
			case "trusted":
				if err := listArgs(d, &p.Trusted); err != nil {
					return d.Errf("proxy_protocol: %v", err)
				}
			case "timeout":
				if err := duration(d, &p.Timeout); err != nil {
					return err
				}
			default:
				return d.Errf("proxy_protocol: unrecognized option '%s'", d.Val())
			}
		}
		h.ProxyProtocol = p
		if err := p.validate(); err != nil {
			return d.Err(err.Error())
		}
		return nil
	},
	"starttls": func(h *Handler, d *caddyfile.Dispenser) error {
		t, err := unmarshalTLS(d)
		h.StartTLS = t
		return err
	},
	"implicit_tls": func(h *Handler, d *caddyfile.Dispenser) error {
		t, err := unmarshalTLS(d)
		h.ImplicitTLS = t
		return err
	},
	"max_line_length": func(h *Handler, d *caddyfile.Dispenser) error {
		return count(d, &h.MaxLineLength, false)
	},
	"idle_timeout": func(h *Handler, d *caddyfile.Dispenser) error {
		return duration(d, &h.IdleTimeout)
	},
	"max_connections": func(h *Handler, d *caddyfile.Dispenser) error {
		return count(d, &h.MaxConnections, true)
	},
	"max_connections_per_ip": func(h *Handler, d *caddyfile.Dispenser) error {
		return count(d, &h.MaxConnectionsPerIP, true)
	},
	"grace_period": func(h *Handler, d *caddyfile.Dispenser) error {
		return duration(d, &h.GracePeriod)
	},
}

// oneArg reads exactly one argument.
func oneArg(d *caddyfile.Dispenser, v *string) error {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return d.ArgErr()
	}
	*v = args[0]
	return nil
}

// noArgs checks that a flag has no argument.
func noArgs(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// listArgs appends one or more arguments.
func listArgs(d *caddyfile.Dispenser, list *[]string) error {
	directive := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Errf("%s: expected at least one value", directive)
	}
	*list = append(*list, args...)
	return nil
}

// count reads a positive count, or `off` (stored as -1) when off is
// allowed.
func count(d *caddyfile.Dispenser, v *int, off bool) error {
	n, err := caddyfilex.CountArg(d, off)
	if err == nil {
		*v = n
	}
	return err
}

// duration reads a positive duration.
func duration(d *caddyfile.Dispenser, v *caddy.Duration) error {
	dur, err := caddyfilex.DurationArg(d, false)
	if err == nil {
		*v = dur
	}
	return err
}
