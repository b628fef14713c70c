package lmtp

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/netconn"
)

// Phases of a session, as far as ending it from outside is concerned.
const (
	phaseIdle       int32 = iota // between transactions, or collecting the envelope
	phaseReceiving               // reading a message: ending now loses nothing
	phaseDelivering              // storing a message: it must be finished and answered
)

// conn is an LMTP connection as the protocol server sees it: every read
// waits at most the idle timeout, bytes are counted, and once the session
// is told to stop (drain), reads end it, except while a received message
// is being delivered, which is finished and answered first.
type conn struct {
	net.Conn
	idle time.Duration

	phase    atomic.Int32
	draining atomic.Bool
	reason   atomic.Value // string: why it was drained
	timedOut atomic.Bool

	id      uint64 // the session's, unique in the process
	started time.Time
	remote  string
	helo    atomic.Value // string: the client's LHLO name
	secure  atomic.Bool  // TLS, implicit or after STARTTLS

	bytesIn, bytesOut atomic.Int64
	messages          atomic.Int64 // received in full
	delivered, failed atomic.Int64 // recipients
	closed            chan struct{}
	closeOnce         sync.Once
}

// newConn wraps raw, counting its octets, for the session id.
func newConn(raw net.Conn, idle time.Duration, id uint64) *conn {
	c := &conn{idle: idle, id: id, closed: make(chan struct{}), started: time.Now(), remote: raw.RemoteAddr().String()}
	c.Conn = &netconn.Counting{Conn: raw, Counter: c}
	return c
}

// Read reads from the client within the idle timeout.
func (c *conn) Read(b []byte) (int, error) {
	if c.idle > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
			return 0, err
		}
	}
	// The deadline is set before draining is checked: drain sets
	// draining before it moves the deadline to now, so a read that
	// misses the flag still wakes up at once.
	if c.stopping() {
		return 0, io.EOF
	}
	n, err := c.Conn.Read(b)
	if errorsIsTimeout(err) {
		if c.stopping() {
			return n, io.EOF
		}
		c.timedOut.Store(true)
	}
	return n, err
}

// stopping reports whether reads must end the session now.
func (c *conn) stopping() bool {
	return c.draining.Load() && c.phase.Load() != phaseDelivering
}

// CountIn counts octets read from the client (netconn.Counter).
func (c *conn) CountIn(n int) { c.bytesIn.Add(int64(n)) }

// CountOut counts octets written to the client (netconn.Counter).
func (c *conn) CountOut(n int) { c.bytesOut.Add(int64(n)) }

// Close closes the connection once; done is closed with it.
func (c *conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		close(c.closed)
	})
	return err
}

// setPhase records what the session is doing.
func (c *conn) setPhase(p int32) { c.phase.Store(p) }

// drain tells the session to stop: at once when it is idle or receiving a
// message (nothing is lost; the MTA sends it again), after the replies
// when it is delivering one.
func (c *conn) drain(reason string) {
	c.reason.CompareAndSwap(nil, reason)
	c.draining.Store(true)
	if c.phase.Load() != phaseDelivering {
		_ = c.Conn.SetReadDeadline(time.Now())
	}
}

// drainReason says why the session was drained, "" when it was not.
func (c *conn) drainReason() string {
	r, _ := c.reason.Load().(string)
	return r
}

// oneConnListener is a net.Listener that accepts one connection, then
// blocks until that connection is closed: go-smtp's Server serves
// listeners, and a caddy-l4 handler is given one connection at a time.
type oneConnListener struct {
	c      *conn
	served net.Conn // c, or a TLS server over it
	used   atomic.Bool
}

// Accept returns the connection the first time, then waits for it to close.
func (l *oneConnListener) Accept() (net.Conn, error) {
	if l.used.CompareAndSwap(false, true) {
		return l.served, nil
	}
	<-l.c.closed
	return nil, net.ErrClosed
}

// Close does nothing: the connection is closed by the session.
func (l *oneConnListener) Close() error { return nil }

// Addr is the connection's local address.
func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }

// errorsIsTimeout reports whether err is a network timeout.
func errorsIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Interface guards
var (
	_ net.Conn        = (*conn)(nil)
	_ netconn.Counter = (*conn)(nil)
	_ net.Listener    = (*oneConnListener)(nil)
)
