package pop3server

import (
	"bufio"
	"bytes"
	"io"
	"sync"
)

// readChunkSize is how much of a stored message is read at a time.
const readChunkSize = 32 * 1024

// messageBuffers holds the read and output buffers of writeMessage. Output
// is handed on once it holds at least a chunk's worth, and converting never
// more than doubles a chunk (a bare LF becomes CRLF, a leading '.'
// doubles), so three chunks' worth never has to grow.
type messageBuffers struct {
	in  []byte
	out []byte
}

var messageBufferPool = sync.Pool{New: func() any {
	return &messageBuffers{in: make([]byte, readChunkSize), out: make([]byte, 0, 3*readChunkSize+256)}
}}

// allLines asks writeMessage for the whole body.
const allLines = -1

// writeMessage sends head (a status line, CRLF included, or "") and then a
// stored message as a POP3 multi-line response body: every bare LF becomes
// CRLF, a line that begins with '.' gets another '.' (dot-stuffing), a last
// line without a line ending gets one, and the response ends with ".\r\n".
// With bodyLines >= 0 it sends the header, the blank line that ends it, and
// at most bodyLines lines of the body (TOP).
//
// Each chunk is converted into one buffer and handed to w in one Write, so
// a message that does not fit w's buffer goes to the connection without
// being copied again, and a small one leaves with its status line in a
// single write.
//
// The bytes sent before dot-stuffing and the terminator are exactly the
// message's CRLF size as storage reports it (storage.WireSize).
//
// sent reports whether anything was handed to w: when it is false after a
// read error, the client has seen nothing and can still be answered -ERR.
func writeMessage(w *bufio.Writer, r io.Reader, bodyLines int, head string) (sent bool, err error) {
	bufs := messageBufferPool.Get().(*messageBuffers)
	defer messageBufferPool.Put(bufs)
	in := bufs.in

	var (
		atLineStart = true  // the next byte begins a line
		prevCR      = false // the last byte copied was '\r'
		lineLen     = 0     // bytes of the current line so far, CR included
		inHeader    = true
		sentBody    = 0
		wrote       = false
		done        = false
	)
	out := append(bufs.out[:0], head...)
	for !done {
		n, rerr := r.Read(in)
		p := in[:n]
		for len(p) > 0 && !done {
			wrote = true
			if atLineStart && p[0] == '.' {
				out = append(out, '.')
			}
			atLineStart = false
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				out = append(out, p...)
				prevCR = p[len(p)-1] == '\r'
				lineLen += len(p)
				break
			}
			if i > 0 {
				prevCR = p[i-1] == '\r'
				lineLen += i
			}
			if prevCR {
				out = append(out, p[:i+1]...)
			} else {
				out = append(out, p[:i]...)
				out = append(out, '\r', '\n')
			}
			emptyLine := lineLen == 0 || (lineLen == 1 && prevCR)
			prevCR, atLineStart, lineLen = false, true, 0
			p = p[i+1:]

			if bodyLines >= 0 {
				switch {
				case inHeader && emptyLine:
					inHeader = false
					done = bodyLines == 0
				case !inHeader:
					sentBody++
					done = sentBody >= bodyLines
				}
			}
		}
		if rerr != nil && rerr != io.EOF {
			return sent, rerr
		}
		if rerr == io.EOF || done {
			break
		}
		if len(out) >= readChunkSize {
			sent = true
			if _, err := w.Write(out); err != nil {
				return sent, err
			}
			out = out[:0]
		}
	}
	if wrote && !atLineStart {
		out = append(out, '\r', '\n')
	}
	out = append(out, '.', '\r', '\n')
	_, err = w.Write(out)
	bufs.out = out[:0]
	return true, err
}
