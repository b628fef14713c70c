package lmtp

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
)

// TLS is the TLS of an LMTP listener: STARTTLS (RFC 3207) or implicit TLS,
// with certificates from Caddy's TLS app, chosen by connection policies as
// in caddy-l4's tls handler. The certificate for the hostname must be in
// the TLS app (loaded with load_files or load_pem, or managed with
// `automate`); the handler does not ask a CA for one.
type TLS struct {
	// ConnectionPolicies select the TLS settings of a handshake. Default:
	// one policy with Caddy's defaults. A policy without default_sni uses
	// the handler's hostname for clients that send no SNI (MTAs often
	// send none over LMTP).
	ConnectionPolicies caddytls.ConnectionPolicies `json:"connection_policies,omitempty"`
}

// errTLSModes refuses a handler with both TLS modes.
var errTLSModes = errors.New("starttls and implicit_tls: a listener is either implicit TLS or plain LMTP with STARTTLS; use two listeners")

// config provisions the policies and returns the TLS config of the
// handshakes.
func (t *TLS) config(ctx caddy.Context, directive, hostname string) (*tls.Config, error) {
	if len(t.ConnectionPolicies) == 0 {
		t.ConnectionPolicies = caddytls.ConnectionPolicies{new(caddytls.ConnectionPolicy)}
	}
	for _, p := range t.ConnectionPolicies {
		if p.DefaultSNI == "" {
			p.DefaultSNI = hostname
		}
	}
	if err := t.ConnectionPolicies.Provision(ctx); err != nil {
		return nil, fmt.Errorf("%s: %v", directive, err)
	}
	return t.ConnectionPolicies.TLSConfig(ctx), nil
}

// unmarshalTLS reads `starttls` or `implicit_tls`, with an optional block
// of `connection_policy { ... }` (caddytls's syntax); d is on the
// directive.
func unmarshalTLS(d *caddyfile.Dispenser) (*TLS, error) {
	directive := d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	t := new(TLS)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "connection_policy" {
			return nil, d.Errf("%s: unrecognized option '%s'", directive, d.Val())
		}
		cp := new(caddytls.ConnectionPolicy)
		if err := cp.UnmarshalCaddyfile(d.NewFromNextSegment()); err != nil {
			return nil, err
		}
		t.ConnectionPolicies = append(t.ConnectionPolicies, cp)
	}
	return t, nil
}
