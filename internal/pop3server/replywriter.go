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
	dst io.Writer
	w   *bufio.Writer // nil while idle
}

// writerPool holds the output buffers of idle sessions.
var writerPool = sync.Pool{
	New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) },
}

// newReplyWriter returns a replyWriter that writes to dst.
func newReplyWriter(dst io.Writer) *replyWriter {
	return &replyWriter{dst: dst}
}

// buffer returns the buffered writer, taking one from the pool if needed.
func (r *replyWriter) buffer() *bufio.Writer {
	if r.w == nil {
		r.w = writerPool.Get().(*bufio.Writer)
		r.w.Reset(r.dst)
	}
	return r.w
}

// WriteString buffers s. A write error is kept by the buffer and returned
// by Flush, so callers need not check here.
func (r *replyWriter) WriteString(s string) {
	_, _ = r.buffer().WriteString(s)
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
	r.dst = dst
	if r.w != nil {
		r.w.Reset(dst)
	}
}
