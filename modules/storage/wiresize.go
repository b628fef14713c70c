package storage

import "bytes"

// WireSizer counts the size of a message as the POP3 handler sends it
// (before dot-stuffing): every line ending normalized to CRLF, and a CRLF
// added after a last line that has none. Precisely: each LF counts 2 octets
// (a CR right before it is part of the same CRLF and is not counted again),
// every other byte counts 1, and non-empty content that does not end with LF
// counts 2 more. A bare CR that is not followed by LF is an ordinary byte.
// An empty message is 0 octets.
//
// Write never fails, so a WireSizer can sit behind io.Copy or in an
// io.MultiWriter. The zero value is ready to use.
type WireSizer struct {
	n       int64
	lastCR  bool // the last byte written was CR
	lastLF  bool // the last byte written was LF
	written bool // at least one byte was written
}

// Write counts p. It always returns len(p), nil.
func (w *WireSizer) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := int64(len(p))
	// A LF becomes CRLF: one more octet, unless a CR already precedes it.
	// bytes.IndexByte finds the line ends many octets at a time.
	if p[0] == '\n' && !w.lastCR {
		n++
	}
	for i := 1; i < len(p); {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if p[i-1] != '\r' {
			n++
		}
		i++
	}
	w.n += n
	last := p[len(p)-1]
	w.lastCR = last == '\r'
	w.lastLF = last == '\n'
	w.written = true
	return len(p), nil
}

// Size returns the wire size of everything written so far, counting the
// CRLF the handler adds when the content does not end with a line ending.
func (w *WireSizer) Size() int64 {
	if w.written && !w.lastLF {
		return w.n + 2
	}
	return w.n
}

// WireSize returns the wire size of msg (see WireSizer).
func WireSize(msg []byte) int64 {
	var w WireSizer
	_, _ = w.Write(msg)
	return w.Size()
}
