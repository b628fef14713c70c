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
// a buffer to read into: it asks poll(2), with no timeout, whether input
// is there, and when it is not, parks until the poller says the socket is
// readable. The read deadline of the socket applies.
type Waitable struct {
	net.Conn
	raw     syscall.RawConn
	pending func() bool
	woken   bool           // the poller woke the wait: no need to look again
	pfd     [1]unix.PollFd // what poll(2) is given, here so that it is not allocated at each wait
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
	w.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN} //nolint:gosec // a descriptor fits int32
	for {
		n, err := unix.Poll(w.pfd[:], 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		// Input, the end of the stream or an error (POLLHUP, POLLERR)
		// that the next Read returns; a failed poll too: the Read then
		// waits in its turn.
		return n != 0 || err != nil
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
