package mbox

import (
	"bufio"
	"bytes"
	"io"
)

// fromPrefix starts the line that separates messages in an mbox (the
// "From_ line"), and the lines that mboxrd quotes.
var fromPrefix = []byte("From ")

// quoteAppend appends msg to dst with mboxrd quoting: every line that
// starts with any number of '>' followed by "From " gets one more '>' in
// front. unquoteReader undoes it exactly, so any message survives a round
// trip byte for byte. The '>' run is counted in full, however long.
func quoteAppend(dst, msg []byte) []byte {
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line = msg[:i+1]
		}
		if isFromLine(bytes.TrimLeft(line, ">")) {
			dst = append(dst, '>')
		}
		dst = append(dst, line...)
		msg = msg[len(line):]
	}
	return dst
}

// quotedLen returns len(quoteAppend(nil, msg)) without building it.
func quotedLen(msg []byte) int64 {
	n := int64(len(msg))
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line = msg[:i+1]
		}
		if isFromLine(bytes.TrimLeft(line, ">")) {
			n++
		}
		msg = msg[len(line):]
	}
	return n
}

// isFromLine reports whether line starts with "From ".
func isFromLine(line []byte) bool {
	return bytes.HasPrefix(line, fromPrefix)
}

// unquoteReader reads a message as stored in an mbox and returns it with
// the mboxrd quoting undone: on every line that starts with one or more
// '>' followed by "From ", the first '>' is dropped. It works on lines of
// any length in constant memory: a run of '>' at the start of a line is
// counted, not buffered, until the byte after it tells whether the line is
// quoted.
type unquoteReader struct {
	r *bufio.Reader

	atLineStart bool  // the next byte starts a line
	pending     int64 // '>' bytes read at the start of the line and not returned yet
	err         error // sticky read error
}

// newUnquoteReader returns a reader over r that undoes mboxrd quoting. r
// starts at the beginning of a line.
func newUnquoteReader(r io.Reader) *unquoteReader {
	return &unquoteReader{r: bufio.NewReaderSize(r, 32*1024), atLineStart: true}
}

// Read implements io.Reader.
func (u *unquoteReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if u.pending > 0 {
			k := min(int64(len(p)-n), u.pending)
			for i := range k {
				p[n+int(i)] = '>'
			}
			n += int(k)
			u.pending -= k
			continue
		}
		if u.err != nil {
			break
		}
		if u.atLineStart {
			u.startLine()
			continue
		}
		chunk, err := u.buffered(len(p) - n)
		if err != nil {
			u.err = err
			continue
		}
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			chunk = chunk[:i+1]
			u.atLineStart = true
		}
		copy(p[n:], chunk)
		n += len(chunk)
		_, _ = u.r.Discard(len(chunk))
	}
	if n > 0 {
		return n, nil
	}
	return 0, u.err
}

// startLine reads the run of '>' that starts a line and decides whether
// the line is quoted; it leaves the run (less one '>' for a quoted line)
// in u.pending and the rest of the line unread.
func (u *unquoteReader) startLine() {
	u.atLineStart = false
	var run int64
	for {
		b, err := u.buffered(u.r.Size())
		if err != nil {
			break // the input ended; a read error shows on the next read
		}
		k := len(b) - len(bytes.TrimLeft(b, ">"))
		run += int64(k)
		_, _ = u.r.Discard(k)
		if k < len(b) {
			break // the run ended
		}
	}
	if run > 0 {
		if next, _ := u.r.Peek(len(fromPrefix)); isFromLine(next) {
			run-- // a quoted line: drop one '>'
		}
	}
	u.pending = run
}

// buffered returns at most limit bytes that are already buffered, reading
// once from the underlying reader when none are. It returns an error only
// when no byte is available.
func (u *unquoteReader) buffered(limit int) ([]byte, error) {
	if u.r.Buffered() == 0 {
		if _, err := u.r.Peek(1); err != nil {
			return nil, err
		}
	}
	return u.r.Peek(min(limit, u.r.Buffered()))
}
