package pop3server

import (
	"io"
	"sync"
)

// replyWriter buffers a session's replies, so that a reply (or a run of
// pipelined replies) goes out in one write. Its buffer comes from a pool
// at the first write and goes back once the replies are flushed and the
// session waits for the client: a session idling between commands, like
// the thousands a busy server holds, keeps no output buffer.
//
// The buffer is writeBufferSize octets, and pipelineBufferSize while a
// client's pipelined commands are being answered (grow): their replies,
// messages included, then leave in a few large writes rather than one per
// message, each write to a TCP socket costing about as much as copying
// several KiB.
//
// Like bufio.Writer, it keeps the first write error, returns it from
// Flush, and writes nothing after it.
type replyWriter struct {
	dst io.Writer
	buf []byte // pending output; nil while idle
	err error
}

// pipelineBufferSize is the output buffer of a session answering pipelined
// commands (see grow): 15 replies of 4 KiB messages in one write.
const pipelineBufferSize = 64 << 10

// The pools of output buffers, one per size.
var (
	writerPool   = sync.Pool{New: func() any { return new([writeBufferSize]byte) }}
	pipelinePool = sync.Pool{New: func() any { return new([pipelineBufferSize]byte) }}
)

// newReplyWriter returns a replyWriter that writes to dst.
func newReplyWriter(dst io.Writer) *replyWriter {
	return &replyWriter{dst: dst}
}

// buffer makes sure a buffer is held, taking one from the pool if needed.
func (r *replyWriter) buffer() {
	if r.buf == nil {
		r.buf = writerPool.Get().(*[writeBufferSize]byte)[:0]
	}
}

// grow makes the buffer pipelineBufferSize octets, keeping what it holds,
// for the replies to pipelined commands.
func (r *replyWriter) grow() {
	if cap(r.buf) >= pipelineBufferSize {
		return
	}
	big := pipelinePool.Get().(*[pipelineBufferSize]byte)[:0]
	big = append(big, r.buf...)
	r.release()
	r.buf = big
}

// release gives the buffer back to its pool, dropping what it holds.
func (r *replyWriter) release() {
	switch cap(r.buf) {
	case writeBufferSize:
		writerPool.Put((*[writeBufferSize]byte)(r.buf[:writeBufferSize]))
	case pipelineBufferSize:
		pipelinePool.Put((*[pipelineBufferSize]byte)(r.buf[:pipelineBufferSize]))
	}
	r.buf = nil
}

// Write buffers p, flushing first when it does not fit; a p at least as
// large as the buffer is written straight to the destination after what
// is pending. It implements io.Writer for writeMessage.
func (r *replyWriter) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	r.buffer()
	if len(r.buf)+len(p) > cap(r.buf) {
		if err := r.Flush(); err != nil {
			return 0, err
		}
		if len(p) >= cap(r.buf) {
			n, err := r.dst.Write(p)
			if err == nil && n < len(p) {
				err = io.ErrShortWrite
			}
			r.err = err
			return n, err
		}
	}
	r.buf = append(r.buf, p...)
	return len(p), nil
}

// WriteString buffers s. A write error is kept and returned by Flush, so
// callers need not check here. s is copied, never handed on, so that a
// reply built with + or strconv does not escape to the heap.
func (r *replyWriter) WriteString(s string) {
	r.buffer()
	for len(s) > 0 && r.err == nil {
		if len(r.buf) == cap(r.buf) && r.Flush() != nil {
			return
		}
		n := copy(r.buf[len(r.buf):cap(r.buf)], s)
		r.buf = r.buf[:len(r.buf)+n]
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
	r.buffer()
	if cap(r.buf)-len(r.buf) < n {
		_ = r.Flush() // an error is kept and returned by Flush
	}
	return r.buf[len(r.buf):len(r.buf)]
}

// write buffers b, normally a line built in scratch's space: then it only
// has to be counted in.
func (r *replyWriter) write(b []byte) {
	free := r.buf[len(r.buf):cap(r.buf)]
	if len(b) > 0 && len(b) <= len(free) && &b[0] == &free[0] {
		if r.err == nil {
			r.buf = r.buf[:len(r.buf)+len(b)]
		}
		return
	}
	_, _ = r.Write(b)
}

// Flush writes what is buffered.
func (r *replyWriter) Flush() error {
	if r.err != nil {
		return r.err
	}
	if len(r.buf) == 0 {
		return nil
	}
	n, err := r.dst.Write(r.buf)
	if err == nil && n < len(r.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		r.err = err
		return err
	}
	r.buf = r.buf[:0]
	return nil
}

// idle gives the buffer back to the pool when nothing is waiting in it.
func (r *replyWriter) idle() {
	if r.buf == nil || len(r.buf) > 0 {
		return
	}
	r.release()
}

// setDestination makes the writer write to dst from now on (a counting
// wrapper, a TLS connection after STLS). What is buffered goes to dst.
func (r *replyWriter) setDestination(dst io.Writer) {
	r.dst = dst
}
