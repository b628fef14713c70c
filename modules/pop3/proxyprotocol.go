package pop3

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/caddyfilex"
	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
)

// maxProxyTimeout bounds proxy_protocol's timeout: a proxy sends its
// header as soon as it connects.
const maxProxyTimeout = time.Minute

// ProxyProtocol puts the listener behind load balancers that speak the
// PROXY protocol (v1 or v2). Every connection must come from a Trusted
// peer and begin with a PROXY header within Timeout; the client is then
// the header's source address, for every limit, lockout, log line and
// for the plaintext policy (a client behind a proxy is never loopback).
// A connection from any other peer, or without a valid header, is closed
// before the greeting and logged.
type ProxyProtocol struct {
	// Trusted are the proxies' networks (CIDR, or single addresses).
	// At least one is required.
	Trusted []string `json:"trusted,omitempty"`

	// Timeout bounds how long a trusted peer may take to send its
	// header. Default: 5s; at most 1m.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	policy clientid.ProxyPolicy
}

// provision parses the trusted networks.
func (p *ProxyProtocol) provision() error {
	if err := p.validate(); err != nil {
		return err
	}
	trusted, _ := clientid.ParseNetworks(p.Trusted)
	p.policy = clientid.ProxyPolicy{Trusted: trusted, Timeout: time.Duration(p.Timeout)}
	return nil
}

// validate checks the settings; errors name the directive.
func (p *ProxyProtocol) validate() error {
	if len(p.Trusted) == 0 {
		return errors.New("proxy_protocol: no trusted proxy; name the load balancers' networks (for example `proxy_protocol 10.0.0.2/32`)")
	}
	if _, err := clientid.ParseNetworks(p.Trusted); err != nil {
		return fmt.Errorf("proxy_protocol: %v", err)
	}
	if d := time.Duration(p.Timeout); d < 0 || d > maxProxyTimeout {
		return fmt.Errorf("proxy_protocol: timeout %s is outside 0..%s", d, maxProxyTimeout)
	}
	return nil
}

// accept reads the PROXY header of a new connection. It returns the
// connection to serve and its client's identity, or false when the
// connection was refused (and logged).
func (p *ProxyProtocol) accept(conn net.Conn, logger *zap.Logger) (net.Conn, clientid.Identity, bool) {
	served, id, err := p.policy.Accept(conn)
	if err != nil {
		peer := conn.RemoteAddr()
		logger.Warn("connection refused",
			zap.String("remote_ip", clientid.IP(peer).String()),
			zap.String("remote", peer.String()),
			zap.String("reason", "proxy_protocol: "+err.Error()))
		return nil, clientid.Identity{}, false
	}
	return served, id, true
}

// unmarshalCaddyfile reads `proxy_protocol <cidr>... [{ trusted <cidr>...;
// timeout <duration> }]` at the dispenser's cursor.
func (p *ProxyProtocol) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	p.Trusted = append(p.Trusted, d.RemainingArgs()...)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "trusted":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Err("proxy_protocol: trusted: expected at least one network (CIDR or address)")
			}
			p.Trusted = append(p.Trusted, args...)
		case "timeout":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddyfilex.DurationValue(d, "proxy_protocol: timeout", false)
			if err != nil {
				return err
			}
			p.Timeout = dur
			if err := caddyfilex.NoMoreArgs(d); err != nil {
				return err
			}
		default:
			return d.Errf("proxy_protocol: unrecognized option '%s'", d.Val())
		}
	}
	if err := p.validate(); err != nil {
		return d.Err(err.Error())
	}
	return nil
}
