package tlsconf

import (
	"crypto/tls"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"go.uber.org/zap"
)

// Provision loads the connection policies of the starttls or implicit_tls
// block named directive and makes the TLS app manage a certificate for
// hostname. It returns what makes the TLS config of one handshake. A
// policy without alpn offers alpn (the protocol's ALPN ID: "pop3",
// "lmtp"...), and one without default_sni uses hostname for clients that
// send no SNI.
func Provision(ctx caddy.Context, directive string, policies *caddytls.ConnectionPolicies, hostname, alpn string, logger *zap.Logger) (func() *tls.Config, error) {
	if len(*policies) == 0 {
		*policies = caddytls.ConnectionPolicies{new(caddytls.ConnectionPolicy)}
	}
	for _, p := range *policies {
		if p.ALPN == nil {
			p.ALPN = []string{alpn}
		}
		if p.DefaultSNI == "" {
			p.DefaultSNI = hostname
		}
	}
	if err := policies.Provision(ctx); err != nil {
		return nil, fmt.Errorf("%s: connection policies: %v", directive, err)
	}
	if err := ManageCertificate(ctx, hostname, logger); err != nil {
		return nil, fmt.Errorf("%s: %v", directive, err)
	}
	ps := *policies
	return func() *tls.Config { return ps.TLSConfig(ctx) }, nil
}

// UnmarshalPolicies reads `<directive>` or `<directive> { connection_policy
// { ... } ... }`; the dispenser is on the directive's token.
func UnmarshalPolicies(d *caddyfile.Dispenser, policies *caddytls.ConnectionPolicies) error {
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
