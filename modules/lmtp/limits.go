package lmtp

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Bounds of the limits, checked when the config loads.
const (
	maxLineLengthCeiling = 1 << 20
	minIdleTimeout       = time.Second
)

// Limits are the handler's defences against broken or hostile clients.
// For the counts, a negative value means no limit (`off` in the
// Caddyfile). Connection counts are process-wide: shared by every lmtp
// handler of the process, and they survive config reloads.
type Limits struct {
	// MaxLineLength is the longest line accepted, CRLF included, in
	// commands and in the message text. At least 1000 (RFC 5321).
	// Default: 8192.
	MaxLineLength int `json:"max_line_length,omitempty"`

	// IdleTimeout closes a session after this long without a byte from
	// the client, between commands or within a message. Default: 5m.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`

	// MaxConnections bounds the LMTP connections of the process; over
	// it, a new connection gets 421 4.7.0 and is closed. Default: 1000.
	MaxConnections int `json:"max_connections,omitempty"`

	// MaxConnectionsPerIP bounds the connections of one client address
	// (an IPv6 client counts as its /64), loopback and trusted networks
	// included: an MTA that opens too many gets 421 4.7.0 and retries
	// later. Default: 100.
	MaxConnectionsPerIP int `json:"max_connections_per_ip,omitempty"`
}

// setDefaults fills in the limits left at zero.
func (l *Limits) setDefaults() {
	if l.MaxLineLength == 0 {
		l.MaxLineLength = DefaultMaxLineLength
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = caddy.Duration(DefaultIdleTimeout)
	}
	if l.MaxConnections == 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.MaxConnectionsPerIP == 0 {
		l.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
}

// validate checks the limits; errors name the directive.
func (l *Limits) validate() error {
	if n := l.MaxLineLength; n != 0 && (n < MinMaxLineLength || n > maxLineLengthCeiling) {
		return fmt.Errorf("max_line_length: %d is outside %d..%d (RFC 5321 lets clients send lines of 1000 octets)", n, MinMaxLineLength, maxLineLengthCeiling)
	}
	if d := time.Duration(l.IdleTimeout); d != 0 && d < minIdleTimeout {
		return fmt.Errorf("idle_timeout: %s is shorter than %s", d, minIdleTimeout)
	}
	return nil
}
