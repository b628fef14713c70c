package pop3server

import (
	"bytes"
	"io"
	"sync"
)

// readChunkSize is how much of a stored message is read at a time, about:
// a 5 MiB message is then 40 reads and 40 writes, not 160 of each as with
// 32 KiB, and each syscall costs about as much as copying 20 KiB.
const readChunkSize = 128 * 1024

// maxInlineHead is the longest status line that writeMessage sends in the
// same write as the message; RETR's and TOP's are far shorter.
const maxInlineHead = 256

// messageBuffer is writeMessage's one buffer: each chunk is read into its
// upper part and converted toward the start (see writeWhole), so a session
// sending a message holds 2 chunks' worth, not 3.
type messageBuffer struct{ b []byte }

var messageBufferPool = sync.Pool{New: func() any {
	return &messageBuffer{b: make([]byte, 2*readChunkSize+2*maxInlineHead)}
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
// A message that fits one chunk leaves with its status line and its
// terminator in a single write; a larger one goes out a chunk at a time,
// straight from the read buffer when the chunk is already in wire form
// (CRLF, no line beginning with '.'), else converted once in place.
//
// The bytes sent before dot-stuffing and the terminator are exactly the
// message's CRLF size as storage reports it (storage.WireSize).
//
// sent reports whether anything was handed to w: when it is false after a
// read error, the client has seen nothing and can still be answered -ERR.
func writeMessage(w io.Writer, r io.Reader, bodyLines int, head []byte) (sent bool, err error) {
	if bodyLines >= 0 || len(head) > maxInlineHead {
		return writeMessageLines(w, r, bodyLines, head)
	}
	return writeWhole(w, r, head)
}

// wireState is where the conversion of a message stands between chunks.
type wireState struct {
	atLineStart bool // the next byte begins a line
	prevCR      bool // the last byte was '\r' (and not at a line start)
}

// convert converts p, the next input of a message, into dst from o on and
// returns the new end of the output. It copies lazily: runs of input that
// need no change are copied whole, once, when a change follows them or at
// the end. When p needs no change at all, nothing is copied, and clean
// reports it: the caller can send p itself.
//
// dst and p may be the same buffer with the output behind the input: the
// output grows by at most 2 bytes per input byte, so it never overtakes
// input not yet consumed as long as o + len(p) <= the start of p in the
// buffer.
func (st *wireState) convert(dst []byte, o int, p []byte) (end int, clean bool) {
	run, pos := 0, 0
	changed := false
	for pos < len(p) {
		if st.atLineStart && p[pos] == '.' {
			o += copy(dst[o:], p[run:pos])
			dst[o] = '.'
			o++
			run = pos
			changed = true
		}
		j := bytes.IndexByte(p[pos:], '\n')
		if j < 0 {
			st.atLineStart, st.prevCR = false, p[len(p)-1] == '\r'
			break
		}
		lf := pos + j
		cr := st.prevCR
		if lf > 0 {
			cr = p[lf-1] == '\r'
		}
		if !cr {
			o += copy(dst[o:], p[run:lf])
			dst[o] = '\r'
			o++
			run = lf
			changed = true
		}
		st.atLineStart, st.prevCR = true, false
		pos = lf + 1
	}
	if !changed {
		return o, true
	}
	return o + copy(dst[o:], p[run:]), false
}

// smallChunk is the size below which a chunk in wire form is copied behind
// the output pending rather than sent on its own, so that a small message
// leaves in one write with its terminator.
const smallChunk = 16 << 10

// writeWhole is writeMessage for the whole message (RETR) with a short
// head.
//
// The buffer holds the output pending from its start (o octets) and the
// next chunk is read into its upper part, at most (len - o) / 2 octets of
// it, so that converting the chunk toward the start never overwrites input
// not yet converted.
func writeWhole(w io.Writer, r io.Reader, head []byte) (sent bool, err error) {
	mb := messageBufferPool.Get().(*messageBuffer)
	defer messageBufferPool.Put(mb)
	buf := mb.b
	end := len(buf)
	st := wireState{atLineStart: true}
	wrote := false
	o := copy(buf, head)
	for {
		if o >= readChunkSize/2 {
			sent = true
			if _, err := w.Write(buf[:o]); err != nil {
				return sent, err
			}
			o = 0
		}
		room := (end - o) / 2
		at := end - room
		n, rerr := r.Read(buf[at:end])
		if n > 0 {
			wrote = true
			p := buf[at : at+n]
			next, clean := st.convert(buf, o, p)
			switch {
			case !clean:
				o = next
			case n < smallChunk:
				o += copy(buf[o:], p)
			default:
				// In wire form already: the output pending goes right
				// in front of the chunk, and both leave in one write.
				from := at - o
				copy(buf[from:at], buf[:o])
				sent = true
				if _, err := w.Write(buf[from : at+n]); err != nil {
					return sent, err
				}
				o = 0
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sent, rerr
		}
	}
	if o+5 > end {
		sent = true
		if _, err := w.Write(buf[:o]); err != nil {
			return sent, err
		}
		o = 0
	}
	if wrote && !st.atLineStart {
		o += copy(buf[o:], "\r\n")
	}
	o += copy(buf[o:], ".\r\n")
	_, err = w.Write(buf[:o])
	return true, err
}

// lineBuffers holds the read and output buffers of writeMessageLines.
// Output is handed on once it holds at least a chunk's worth, and
// converting never more than doubles a chunk (a bare LF becomes CRLF, a
// leading '.' doubles), so three chunks' worth never has to grow.
type lineBuffers struct {
	in  []byte
	out []byte
}

// lineChunkSize is writeMessageLines' read size: TOP usually stops within
// the first chunk.
const lineChunkSize = 32 * 1024

var lineBufferPool = sync.Pool{New: func() any {
	return &lineBuffers{in: make([]byte, lineChunkSize), out: make([]byte, 0, 3*lineChunkSize+256)}
}}

// writeMessageLines is writeMessage line by line, counting the lines of
// the body: TOP, and RETR with a head too long to send inline.
func writeMessageLines(w io.Writer, r io.Reader, bodyLines int, head []byte) (sent bool, err error) {
	bufs := lineBufferPool.Get().(*lineBuffers)
	defer lineBufferPool.Put(bufs)
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
		if len(out) >= lineChunkSize {
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
