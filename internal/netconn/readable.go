package netconn

import "net"

// ReadableWaiter is a connection that can wait until it has input without
// reading it, so that a session waiting for its client's next command
// needs no read buffer (see Waitable).
type ReadableWaiter interface {
	// WaitReadable returns once a read would not block: input, the end of
	// the stream or an error is there. It returns the error of the wait
	// itself (the read deadline passed, the connection is closed).
	WaitReadable() error
}

// NewWaitable returns conn as a ReadableWaiter when its socket can be
// waited on here: socket is the connection at the bottom of conn (a
// *net.TCPConn), and pending reports input that the layers between them
// have buffered (nil: they buffer nothing). Elsewhere, or when socket is
// not a syscall.Conn, it returns conn itself.
func NewWaitable(conn, socket net.Conn, pending func() bool) net.Conn {
	w := newWaitable(conn, socket, pending)
	if w == nil {
		return conn
	}
	return w
}
