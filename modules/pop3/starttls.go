package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"go.uber.org/zap"
)

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

// alpnPOP3 is POP3's ALPN protocol ID (RFC 7301 registry).
const alpnPOP3 = "pop3"

// handshakeTimeout bounds the TLS handshake after STLS.
const handshakeTimeout = 30 * time.Second

// provision loads the connection policies and makes the TLS app manage a
// certificate for hostname. It returns what makes the TLS config of one
// handshake.
func (st *StartTLS) provision(ctx caddy.Context, hostname string, logger *zap.Logger) (func() *tls.Config, error) {
	if len(st.ConnectionPolicies) == 0 {
		st.ConnectionPolicies = caddytls.ConnectionPolicies{new(caddytls.ConnectionPolicy)}
	}
	for _, p := range st.ConnectionPolicies {
		if p.ALPN == nil {
			p.ALPN = []string{alpnPOP3}
		}
		if p.DefaultSNI == "" {
			p.DefaultSNI = hostname
		}
	}
	if err := st.ConnectionPolicies.Provision(ctx); err != nil {
		return nil, fmt.Errorf("starttls: connection policies: %v", err)
	}
	if err := manageCertificate(ctx, hostname, logger); err != nil {
		return nil, fmt.Errorf("starttls: %v", err)
	}
	policies := st.ConnectionPolicies
	return func() *tls.Config { return policies.TLSConfig(ctx) }, nil
}

// unmarshalCaddyfile reads `starttls` or `starttls { connection_policy {
// ... } ... }`; the dispenser is on the starttls token.
func (st *StartTLS) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch option := d.Val(); option {
		case "connection_policy":
			cp := new(caddytls.ConnectionPolicy)
			if err := cp.UnmarshalCaddyfile(d.NewFromNextSegment()); err != nil {
				return err
			}
			st.ConnectionPolicies = append(st.ConnectionPolicies, cp)
		default:
			return d.Errf("starttls: unrecognized option '%s'", option)
		}
	}
	return nil
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
// AUTHORIZATION state.
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

	tlsConn := tls.Server(s.conn, s.h.tlsConfig())
	_ = s.conn.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tlsConn.Handshake(); err != nil {
		s.log.Debug("STLS handshake failed", zap.Error(err))
		return errCloseSession
	}
	_ = s.conn.SetDeadline(time.Time{})
	cs := tlsConn.ConnectionState()
	s.log.Debug("STLS handshake done",
		zap.String("tls_version", tls.VersionName(cs.Version)),
		zap.String("cipher_suite", tls.CipherSuiteName(cs.CipherSuite)),
		zap.String("server_name", cs.ServerName))

	// Fresh buffers over the TLS connection: the old reader, and whatever
	// plaintext it held, is dropped.
	s.r = bufio.NewReaderSize(tlsConn, readBufferSize)
	s.w.setDestination(tlsConn)
	s.secure = true
	s.userArg = ""
	return nil
}
