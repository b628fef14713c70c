package pop3

import (
	"net"
	"sync"
	"time"
)

// writeDeadlineConn gives every write to a connection its own deadline, so
// that a client that stops reading (while a large message is sent, say) is
// disconnected after timeout instead of holding its session forever. Each
// flush of the session's output is one write, so the deadline is per flush,
// not per session. A deadline set explicitly with SetWriteDeadline or
// SetDeadline still applies when it is earlier.
type writeDeadlineConn struct {
	net.Conn
	timeout time.Duration

	mu    sync.Mutex
	fixed time.Time // the explicit write deadline, zero for none
}

// withWriteDeadline wraps conn so that each write must complete within
// timeout; timeout <= 0 returns conn unchanged.
func withWriteDeadline(conn net.Conn, timeout time.Duration) net.Conn {
	if timeout <= 0 {
		return conn
	}
	return &writeDeadlineConn{Conn: conn, timeout: timeout}
}

// Write writes p with a fresh deadline.
func (c *writeDeadlineConn) Write(p []byte) (int, error) {
	deadline := time.Now().Add(c.timeout)
	c.mu.Lock()
	if !c.fixed.IsZero() && c.fixed.Before(deadline) {
		deadline = c.fixed
	}
	c.mu.Unlock()
	if err := c.Conn.SetWriteDeadline(deadline); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// SetWriteDeadline sets an explicit write deadline (zero: none).
func (c *writeDeadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.fixed = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline sets the read deadline and an explicit write deadline.
func (c *writeDeadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.fixed = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// Interface guard
var _ net.Conn = (*writeDeadlineConn)(nil)
