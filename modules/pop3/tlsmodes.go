package pop3

import (
	"crypto/tls"

	"github.com/caddy-pop3/caddy-pop3/internal/tlsconf"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"go.uber.org/zap"
)

// alpnPOP3 is POP3's ALPN protocol ID (RFC 7301 registry).
const alpnPOP3 = "pop3"

// StartTLS configures the STLS command (RFC 2595): a client on a clear
// connection asks to upgrade it to TLS before it logs in. Certificates come
// from Caddy's TLS app, like those of caddy-l4's tls handler.
type StartTLS struct {
	// ConnectionPolicies select the TLS settings of a handshake, exactly as
	// in caddy-l4's tls handler. Default: one policy with Caddy's defaults.
	// A policy without alpn offers "pop3", and one without default_sni uses
	// the handler's hostname for clients that send no SNI.
	ConnectionPolicies caddytls.ConnectionPolicies `json:"connection_policies,omitempty"`
}

// provision loads the connection policies and makes the TLS app manage a
// certificate for hostname. It returns what makes the TLS config of one
// handshake.
func (st *StartTLS) provision(ctx caddy.Context, hostname string, logger *zap.Logger) (func() *tls.Config, error) {
	return tlsconf.Provision(ctx, "starttls", &st.ConnectionPolicies, hostname, alpnPOP3, logger)
}

// unmarshalCaddyfile reads `starttls` or `starttls { connection_policy {
// ... } ... }`; the dispenser is on the starttls token.
func (st *StartTLS) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return tlsconf.UnmarshalPolicies(d, &st.ConnectionPolicies)
}

// ImplicitTLS makes the listener POP3S (RFC 8314): every connection begins
// with a TLS handshake, run inside the session. The connection is counted
// by max_connections and max_connections_per_ip from its first byte, and
// the handshake is bounded by auth_timeout and a handshake timeout, which
// caddy-l4's tls handler in front of pop3 does not do. Certificates come
// from Caddy's TLS app, as for StartTLS.
type ImplicitTLS struct {
	// ConnectionPolicies select the TLS settings of a handshake, exactly as
	// in caddy-l4's tls handler. Default: one policy with Caddy's defaults.
	// A policy without alpn offers "pop3", and one without default_sni uses
	// the handler's hostname for clients that send no SNI.
	ConnectionPolicies caddytls.ConnectionPolicies `json:"connection_policies,omitempty"`
}

// provision loads the connection policies and makes the TLS app manage a
// certificate for hostname. It returns what makes the TLS config of one
// handshake.
func (it *ImplicitTLS) provision(ctx caddy.Context, hostname string, logger *zap.Logger) (func() *tls.Config, error) {
	return tlsconf.Provision(ctx, "implicit_tls", &it.ConnectionPolicies, hostname, alpnPOP3, logger)
}

// unmarshalCaddyfile reads `implicit_tls` or `implicit_tls {
// connection_policy { ... } ... }`; the dispenser is on the implicit_tls
// token.
func (it *ImplicitTLS) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return tlsconf.UnmarshalPolicies(d, &it.ConnectionPolicies)
}

// warnTLSInFront logs, once per handler, that the connection arrived
// already TLS: caddy-l4's tls handler runs before this one, with no
// handshake deadline and outside the connection limits.
func (h *Handler) warnTLSInFront() {
	if h.warnedTLSInFront.Swap(true) {
		return
	}
	h.logger.Warn("the connection is already TLS: caddy-l4's tls handler runs before pop3, so TLS handshakes have no deadline and are not counted by max_connections; a client that never finishes one holds a file descriptor for good. Remove the tls handler and use pop3's implicit_tls instead")
}
