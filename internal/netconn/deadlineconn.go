// Package netconn has the connection wrappers the mail protocol handlers
// share: deadlines that bound every read and write (Deadlines) and byte
// counting (Counting).
package netconn

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

// Deadlines manages a session connection's deadlines.
//
// Every write gets its own deadline, so that a client that stops reading
// (while a large message is sent, say) is disconnected after timeout
// instead of holding its session forever. Each flush of the session's
// output is one write, so the deadline is per flush, not per session. A
// deadline set explicitly with SetWriteDeadline or SetDeadline still
// applies when it is earlier.
//
// While a bound is set (see Bound), no read or write deadline is later
// than it: before login that is the authentication deadline, so neither a
// client that stops reading nor one that stalls a TLS handshake outlives
// it.
//
// Deadlines that would only move later by less than the slack
// (deadlineSlack, at most a tenth of the timeout) are
// left where they are (so they may fire up to that much early, never
// late); an earlier one, such as the "now" of a session ended from
// outside, always applies at once.
type Deadlines struct {
	net.Conn
	timeout time.Duration
	slack   time.Duration // see needless

	mu    sync.Mutex
	fixed time.Time // the explicit write deadline, zero for none
	limit time.Time // no deadline is later than this; zero for none
	read  time.Time // the read deadline in force, zero for none
	write time.Time // the write deadline in force, zero for none
}

// WithDeadlines wraps conn so that each write must complete within
// timeout (none when timeout <= 0) and deadline updates are coalesced.
func WithDeadlines(conn net.Conn, timeout time.Duration) *Deadlines {
	return &Deadlines{Conn: conn, timeout: timeout, slack: slackFor(timeout)}
}

// earliest returns the earlier of two deadlines, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// Bound makes t the latest deadline of every read and write from now on
// (zero: no bound). A deadline in force that is later is moved to t at
// once.
func (c *Deadlines) Bound(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit = t
	if t.IsZero() {
		return nil
	}
	if c.read.IsZero() || t.Before(c.read) {
		if err := c.Conn.SetReadDeadline(t); err != nil {
			return err
		}
		c.read = t
	}
	if c.write.IsZero() || t.Before(c.write) {
		if err := c.Conn.SetWriteDeadline(t); err != nil {
			return err
		}
		c.write = t
	}
	return nil
}

// needless reports whether moving a deadline from cur to next can be
// skipped: next is no earlier than cur and less than the slack later.
func (c *Deadlines) needless(cur, next time.Time) bool {
	return !cur.IsZero() && !next.IsZero() && !next.Before(cur) && next.Sub(cur) < c.slack
}

// slackFor is the slack of a connection whose idle and write timeout is
// timeout: deadlineSlack, but never more than a tenth of the timeout, so
// that a short timeout still moves with the client's activity.
func slackFor(timeout time.Duration) time.Duration {
	if timeout > 0 {
		return min(deadlineSlack, timeout/10)
	}
	return deadlineSlack
}

// Bounded reports whether a bound is set.
func (c *Deadlines) Bounded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.limit.IsZero()
}

// Write writes p with a fresh deadline.
func (c *Deadlines) Write(p []byte) (int, error) {
	var deadline time.Time
	if c.timeout > 0 {
		deadline = time.Now().Add(c.timeout)
	}
	c.mu.Lock()
	deadline = earliest(earliest(deadline, c.fixed), c.limit)
	var err error
	if !deadline.Equal(c.write) && !c.needless(c.write, deadline) {
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
// less than the slack.
func (c *Deadlines) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t = earliest(t, c.limit)
	if c.needless(c.read, t) {
		return nil
	}
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	c.read = t
	return nil
}

// SetWriteDeadline sets an explicit write deadline (zero: none).
func (c *Deadlines) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fixed = t
	t = earliest(t, c.limit)
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	c.write = t
	return nil
}

// SetDeadline sets the read deadline and an explicit write deadline,
// exactly (but never past the bound).
func (c *Deadlines) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fixed = t
	t = earliest(t, c.limit)
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	c.read, c.write = t, t
	return nil
}

// Interface guard
var _ net.Conn = (*Deadlines)(nil)
