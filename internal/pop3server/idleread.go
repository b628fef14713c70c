package pop3server

import (
	"bufio"
	"sync"

	"github.com/caddy-pop3/caddy-pop3/internal/netconn"
)

// readerPool holds the input buffers of sessions waiting for a command.
var readerPool = sync.Pool{
	New: func() any { return bufio.NewReaderSize(nil, readBufferSize) },
}

// A session whose connection is a netconn.ReadableWaiter (a plain TCP
// connection, see the adapter) holds no input buffer while it waits for
// its client: it waits for the socket to be readable (in the network
// poller, with the read deadline in force), then takes a buffer from
// readerPool for as long as it has input, and gives it back when every
// reply is flushed and nothing is left in it. Elsewhere (TLS, a PROXY
// header reader in between) the buffer is the session's own, for its
// whole life.

// startReading sets up the session's input: a buffer of its own when its
// connection cannot wait without one; none yet otherwise.
func (s *Session) startReading(conn any) {
	if w, ok := conn.(netconn.ReadableWaiter); ok {
		s.waiter = w
		return
	}
	s.r = bufio.NewReaderSize(s.conn, readBufferSize)
}

// reader makes sure the session has its input buffer, waiting first for
// input when it has none.
func (s *Session) reader() error {
	if s.r != nil {
		return nil
	}
	if err := s.waiter.WaitReadable(); err != nil {
		return err
	}
	s.r = readerPool.Get().(*bufio.Reader)
	s.r.Reset(s.conn)
	return nil
}

// readerIdle gives the input buffer back to the pool when nothing is
// waiting in it and the session can wait without one.
func (s *Session) readerIdle() {
	if s.waiter == nil || s.r == nil || s.r.Buffered() > 0 {
		return
	}
	s.r.Reset(nil)
	readerPool.Put(s.r)
	s.r = nil
}

// stopWaiting makes the input buffer the session's own, for a connection
// (TLS) that cannot wait without one.
func (s *Session) stopWaiting() {
	if s.r != nil && s.waiter != nil {
		s.r.Reset(nil)
		readerPool.Put(s.r)
	}
	s.waiter = nil
	s.r = nil
}

// commandBytes returns how many octets of input are buffered.
func (s *Session) commandBytes() int {
	if s.r == nil {
		return 0
	}
	return s.r.Buffered()
}
