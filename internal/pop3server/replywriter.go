package pop3server

import (
	"bufio"
	"io"
	"sync"
)

// replyWriter buffers a session's replies, so that a reply (or a run of
// pipelined replies) goes out in one write. Its buffer comes from a pool
// at the first write and goes back once the replies are flushed and the
// session waits for the client: a session idling between commands, like
// the thousands a busy server holds, keeps no output buffer.
type replyWriter struct {
	dst sink
	w   *bufio.Writer // nil while idle; writes to &dst
}

// sink is what the buffer writes to: the destination can change under
// it (setDestination) without the buffered output being dropped.
type sink struct{ io.Writer }

// writerPool holds the output buffers of idle sessions.
var writerPool = sync.Pool{
	New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) },
}

// newReplyWriter returns a replyWriter that writes to dst.
func newReplyWriter(dst io.Writer) *replyWriter {
	return &replyWriter{dst: sink{dst}}
}

// buffer returns the buffered writer, taking one from the pool if needed.
func (r *replyWriter) buffer() *bufio.Writer {
	if r.w == nil {
		r.w = writerPool.Get().(*bufio.Writer)
		r.w.Reset(&r.dst)
	}
	return r.w
}

// WriteString buffers s. A write error is kept by the buffer and returned
// by Flush, so callers need not check here.
//
// s is copied into the buffer's free space rather than handed to
// bufio.Writer.WriteString, which may pass it on to the connection: that
// would make every string given here escape, so that each reply built with
// + or strconv would be allocated on the heap.
func (r *replyWriter) WriteString(s string) {
	w := r.buffer()
	for len(s) > 0 {
		if w.Available() == 0 && w.Flush() != nil {
			return
		}
		free := w.AvailableBuffer()[:w.Available()]
		n := copy(free, s)
		_, _ = w.Write(free[:n])
		s = s[n:]
	}
}

// maxReplyLine is what scratch is asked for by the replies built in place:
// a status line or listing line with two numbers, or a number and a UID
// (at most 70 octets, RFC 1939 section 7).
const maxReplyLine = 128

// scratch returns the buffer's free space, empty and with room for at
// least n octets (flushing first when there is less), for a reply line to
// be appended in place and handed to write: building a line there needs
// no allocation and no copy.
func (r *replyWriter) scratch(n int) []byte {
	w := r.buffer()
	if w.Available() < n {
		_ = w.Flush() // an error is kept by w and returned by Flush
	}
	return w.AvailableBuffer()
}

// write buffers b, normally a line built in scratch's space.
func (r *replyWriter) write(b []byte) {
	_, _ = r.buffer().Write(b)
}

// Flush writes what is buffered.
func (r *replyWriter) Flush() error {
	if r.w == nil {
		return nil
	}
	return r.w.Flush()
}

// idle gives the buffer back to the pool when nothing is waiting in it.
func (r *replyWriter) idle() {
	if r.w == nil || r.w.Buffered() > 0 {
		return
	}
	r.w.Reset(nil)
	writerPool.Put(r.w)
	r.w = nil
}

// setDestination makes the writer write to dst from now on (a counting
// wrapper, a TLS connection after STLS). Buffered output goes to dst.
func (r *replyWriter) setDestination(dst io.Writer) {
	r.dst.Writer = dst
}
