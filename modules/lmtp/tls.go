package lmtp

import (
	"errors"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"

	"github.com/caddy-pop3/caddy-pop3/internal/tlsconf"
)

// alpnLMTP is offered by connection policies that set no ALPN. MTAs send
// no ALPN over LMTP; a client that offers only other protocols is refused.
const alpnLMTP = "lmtp"

// TLS is the TLS of an LMTP listener, STARTTLS (RFC 3207) or implicit TLS,
// with the pop3 handler's JSON: certificates from Caddy's TLS app, which
// manages one for the handler's hostname (internal/tlsconf), chosen by
// connection policies as in caddy-l4's tls handler.
type TLS struct {
	// ConnectionPolicies select the TLS settings of a handshake. Default:
	// one policy with Caddy's defaults. A policy without default_sni uses
	// the handler's hostname for clients that send no SNI (MTAs often
	// send none over LMTP).
	ConnectionPolicies caddytls.ConnectionPolicies `json:"connection_policies,omitempty"`
}

// errTLSModes refuses a handler with both TLS modes.
var errTLSModes = errors.New("starttls and implicit_tls: a listener is either implicit TLS or plain LMTP with STARTTLS; use two listeners")

// unmarshalTLS reads `starttls` or `implicit_tls`, with an optional block
// of `connection_policy { ... }`; d is on the directive.
func unmarshalTLS(d *caddyfile.Dispenser) (*TLS, error) {
	t := new(TLS)
	return t, tlsconf.UnmarshalPolicies(d, &t.ConnectionPolicies)
}
