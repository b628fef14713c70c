package pop3

import (
	"bufio"
	"bytes"
	"io"
	"sync"
)

// copyBufferSize is the size of the buffer a message is read through.
const copyBufferSize = 32 * 1024

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// allLines asks writeMessage for the whole body.
const allLines = -1

// writeMessage sends a stored message as a POP3 multi-line response body:
// every bare LF becomes CRLF, a line that begins with '.' gets another '.'
// (dot-stuffing), a last line without a line ending gets one, and the
// response ends with ".\r\n". With bodyLines >= 0 it sends the header, the
// blank line that ends it, and at most bodyLines lines of the body (TOP).
//
// The bytes sent before dot-stuffing and the terminator are exactly the
// message's CRLF size as storage reports it.
func writeMessage(w *bufio.Writer, r io.Reader, bodyLines int) error {
	bufp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bufp)
	buf := *bufp

	var (
		atLineStart = true  // the next byte begins a line
		prevCR      = false // the last byte written was '\r'
		lineLen     = 0     // bytes of the current line so far, CR included
		inHeader    = true
		sentBody    = 0
		wrote       = false
	)
	done := false
	for !done {
		n, rerr := r.Read(buf)
		p := buf[:n]
		for len(p) > 0 && !done {
			wrote = true
			if atLineStart && p[0] == '.' {
				w.WriteByte('.')
			}
			atLineStart = false
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				w.Write(p)
				prevCR = p[len(p)-1] == '\r'
				lineLen += len(p)
				break
			}
			if i > 0 {
				w.Write(p[:i])
				prevCR = p[i-1] == '\r'
				lineLen += i
			}
			if !prevCR {
				w.WriteByte('\r')
			}
			w.WriteByte('\n')
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
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if wrote && !atLineStart {
		w.WriteString("\r\n")
	}
	_, err := w.WriteString(".\r\n")
	return err
}
