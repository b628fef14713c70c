package pop3

import (
	"context"
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

// canStartTLS reports whether STLS is offered on this session now: it is
// configured, the connection is clear, and nobody has logged in.
func (s *session) canStartTLS() bool {
	return s.h.tlsConfig != nil && !s.secure && s.state == stateAuthorization
}

// cmdSTLS upgrades the connection to TLS (RFC 2595 section 4). Whatever the
// client sent after STLS and before the handshake is discarded, so no
// plaintext command can be injected into the protected session
// (CVE-2011-0411). After the handshake the session starts afresh in the
// AUTHORIZATION state; its authentication deadline stays where it was.
func (s *session) cmdSTLS(_ context.Context, _ command) error {
	switch {
	case s.h.tlsConfig == nil:
		return s.reject("STLS is not available on this server")
	case s.secure:
		return s.reject("Command not permitted when TLS active")
	}
	s.ok("Begin TLS negotiation")
	if err := s.w.Flush(); err != nil {
		return err
	}
	if n := s.r.Buffered(); n > 0 {
		s.log.Warn("discarding data sent before the TLS handshake", zap.Int("bytes", n))
	}
	if !s.handshake(s.h.tlsConfig(), "STLS") {
		return errCloseSession
	}
	s.userArg = ""
	return nil
}
