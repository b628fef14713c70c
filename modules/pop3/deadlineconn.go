package pop3

import (
	"net"
	"sync"
	"time"
)

// deadlineSlack is how much later than asked a deadline may be left: a
// deadline that would move later by less than this is not moved. Moving a
// deadline is a timer update in the runtime; a session moves its read
// deadline at every command and its write deadline at every flush, so
// without the slack a short session spends more on timers than on
// parsing.
const deadlineSlack = time.Second

// deadlineConn manages a session connection's deadlines.
//
// Every write gets its own deadline, so that a client that stops reading
// (while a large message is sent, say) is disconnected after timeout
// instead of holding its session forever. Each flush of the session's
// output is one write, so the deadline is per flush, not per session. A
// deadline set explicitly with SetWriteDeadline or SetDeadline still
// applies when it is earlier.
//
// Deadlines that would only move later by less than deadlineSlack are
// left where they are (so they may fire up to that much early, never
// late); an earlier one, such as the "now" of a session ended from
// outside, always applies at once.
type deadlineConn struct {
	net.Conn
	timeout time.Duration

	mu    sync.Mutex
	fixed time.Time // the explicit write deadline, zero for none
	read  time.Time // the read deadline in force, zero for none
	write time.Time // the write deadline in force, zero for none
}

// withDeadlines wraps conn so that each write must complete within
// timeout and deadline updates are coalesced; timeout <= 0 returns conn
// unchanged.
func withDeadlines(conn net.Conn, timeout time.Duration) net.Conn {
	if timeout <= 0 {
		return conn
	}
	return &deadlineConn{Conn: conn, timeout: timeout}
}

// needless reports whether moving a deadline from cur to next can be
// skipped: next is no earlier than cur and less than deadlineSlack later.
func needless(cur, next time.Time) bool {
	return !cur.IsZero() && !next.IsZero() && !next.Before(cur) && next.Sub(cur) < deadlineSlack
}

// Write writes p with a fresh deadline.
func (c *deadlineConn) Write(p []byte) (int, error) {
	deadline := time.Now().Add(c.timeout)
	c.mu.Lock()
	if !c.fixed.IsZero() && c.fixed.Before(deadline) {
		deadline = c.fixed
	}
	var err error
	if !needless(c.write, deadline) {
		if err = c.Conn.SetWriteDeadline(deadline); err == nil {
			c.write = deadline
		}
	}
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// SetReadDeadline sets the read deadline, unless it would move later by
// less than deadlineSlack.
func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if needless(c.read, t) {
		return nil
	}
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	c.read = t
	return nil
}

// SetWriteDeadline sets an explicit write deadline (zero: none).
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fixed = t
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	c.write = t
	return nil
}

// SetDeadline sets the read deadline and an explicit write deadline,
// exactly.
func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fixed = t
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.read, c.write = t, t
	return nil
}

// Interface guard
var _ net.Conn = (*deadlineConn)(nil)
