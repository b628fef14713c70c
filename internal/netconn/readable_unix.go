//go:build unix

package netconn

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Waitable is a net.Conn whose WaitReadable waits on the socket under it
// with the runtime's network poller, as a blocked Read does, but without
// a buffer to read into: it peeks at one octet (recv with MSG_PEEK) to see
// whether input is there, and when it is not, parks until the poller says
// the socket is readable. The read deadline of the socket applies.
type Waitable struct {
	net.Conn
	raw     syscall.RawConn
	pending func() bool
	woken   bool    // the poller woke the wait: no need to peek again
	peek    [1]byte // what MSG_PEEK reads into
	ready   func(fd uintptr) bool
}

// newWaitable returns the Waitable of conn, or nil.
func newWaitable(conn, socket net.Conn, pending func() bool) *Waitable {
	sc, ok := socket.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &Waitable{Conn: conn, raw: raw, pending: pending}
	w.ready = w.readable // made once: a method value passed at each wait would be allocated each time
	return w
}

// readable is the callback of syscall.RawConn.Read: it reports whether a
// read of fd would not block.
func (w *Waitable) readable(fd uintptr) bool {
	if w.woken {
		return true // a spurious wake-up only makes the next Read wait in its turn
	}
	w.woken = true
	for {
		_, _, err := unix.Recvfrom(int(fd), w.peek[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK):
			return false
		}
		return true // input, the end of the stream, or an error the next Read returns
	}
}

// WaitReadable waits until a read would not block (see ReadableWaiter).
func (w *Waitable) WaitReadable() error {
	if w.pending != nil && w.pending() {
		return nil
	}
	w.woken = false
	return w.raw.Read(w.ready)
}

// Interface guards
var (
	_ net.Conn       = (*Waitable)(nil)
	_ ReadableWaiter = (*Waitable)(nil)
)
