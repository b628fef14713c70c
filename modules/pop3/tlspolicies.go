package pop3

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"go.uber.org/zap"
)

// alpnPOP3 is POP3's ALPN protocol ID (RFC 7301 registry).
const alpnPOP3 = "pop3"

// handshakeTimeout bounds a TLS handshake (after STLS, or at the start of
// an implicit-TLS connection). Before login the authentication deadline
// bounds it too: whichever comes first.
const handshakeTimeout = 30 * time.Second

// provisionPolicies loads the connection policies of the starttls or
// implicit_tls block named directive and makes the TLS app manage a
// certificate for hostname. It returns what makes the TLS config of one
// handshake. A policy without alpn offers "pop3", and one without
// default_sni uses hostname for clients that send no SNI.
func provisionPolicies(ctx caddy.Context, directive string, policies *caddytls.ConnectionPolicies, hostname string, logger *zap.Logger) (func() *tls.Config, error) {
	if len(*policies) == 0 {
		*policies = caddytls.ConnectionPolicies{new(caddytls.ConnectionPolicy)}
	}
	for _, p := range *policies {
		if p.ALPN == nil {
			p.ALPN = []string{alpnPOP3}
		}
		if p.DefaultSNI == "" {
			p.DefaultSNI = hostname
		}
	}
	if err := policies.Provision(ctx); err != nil {
		return nil, fmt.Errorf("%s: connection policies: %v", directive, err)
	}
	if err := manageCertificate(ctx, hostname, logger); err != nil {
		return nil, fmt.Errorf("%s: %v", directive, err)
	}
	ps := *policies
	return func() *tls.Config { return ps.TLSConfig(ctx) }, nil
}

// unmarshalPolicies reads `<directive>` or `<directive> { connection_policy
// { ... } ... }`; the dispenser is on the directive's token.
func unmarshalPolicies(d *caddyfile.Dispenser, policies *caddytls.ConnectionPolicies) error {
	directive := d.Val()
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
			*policies = append(*policies, cp)
		default:
			return d.Errf("%s: unrecognized option '%s'", directive, option)
		}
	}
	return nil
}

// handshake runs the server side of a TLS handshake on the session's
// connection, within handshakeTimeout and, before login, the
// authentication deadline (the connection's bound). On success the
// session reads and writes through TLS from then on; what was buffered
// before is dropped.
func (s *session) handshake(cfg *tls.Config, what string) bool {
	tlsConn := tls.Server(s.conn, cfg)
	_ = s.conn.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tlsConn.Handshake(); err != nil {
		s.log.Debug(what+" handshake failed", zap.Error(err))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			s.endAs(endTimeout)
		} else {
			s.endAs(endClientDrop)
		}
		return false
	}
	_ = s.conn.SetDeadline(time.Time{})
	cs := tlsConn.ConnectionState()
	s.log.Debug(what+" handshake done",
		zap.String("tls_version", tls.VersionName(cs.Version)),
		zap.String("cipher_suite", tls.CipherSuiteName(cs.CipherSuite)),
		zap.String("server_name", cs.ServerName))

	s.r = bufio.NewReaderSize(tlsConn, readBufferSize)
	s.w.setDestination(tlsConn)
	s.secure = true
	return true
}
