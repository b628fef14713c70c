package lmtp

import (
	"fmt"
	"net"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
)

// ProxyProtocol puts the listener behind load balancers that send a PROXY
// protocol header (v1 or v2), with the same JSON as the pop3 handler's:
// every connection must come from a Trusted peer and begin with a header
// within Timeout, and the client is the header's source address. Others
// are closed before the greeting.
type ProxyProtocol struct {
	// Trusted are the proxies' networks (CIDR, or single addresses).
	Trusted []string `json:"trusted,omitempty"`
	// Timeout bounds how long a proxy may take to send its header.
	// Default: 5s; at most 1m.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	policy clientid.ProxyPolicy
}

// provision builds the policy of a validated ProxyProtocol.
func (p *ProxyProtocol) provision() {
	nets, _ := clientid.ParseNetworks(p.Trusted)
	p.policy = clientid.ProxyPolicy{Trusted: nets, Timeout: time.Duration(p.Timeout)}
}

// validate checks the settings; errors name the directive.
func (p *ProxyProtocol) validate() error {
	if len(p.Trusted) == 0 {
		return fmt.Errorf("proxy_protocol: name the proxies' networks (for example `proxy_protocol 10.0.0.2/32`)")
	}
	if _, err := clientid.ParseNetworks(p.Trusted); err != nil {
		return fmt.Errorf("proxy_protocol: %v", err)
	}
	if d := time.Duration(p.Timeout); d < 0 || d > time.Minute {
		return fmt.Errorf("proxy_protocol: timeout %s is outside 0..1m", d)
	}
	return nil
}

// accept reads the header; false means the connection was refused and
// logged.
func (p *ProxyProtocol) accept(c net.Conn, log *zap.Logger) (net.Conn, clientid.Identity, bool) {
	served, id, err := p.policy.Accept(c)
	if err != nil {
		log.Warn("connection refused", zap.String("remote", c.RemoteAddr().String()),
			zap.String("reason", "proxy_protocol: "+err.Error()))
		return nil, id, false
	}
	return served, id, true
}
