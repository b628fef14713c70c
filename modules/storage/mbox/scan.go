package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// message is where one message lies in a spool, and what the scan found
// out about it.
type message struct {
	start      int64 // offset of the From_ line
	content    int64 // offset of the content: after the From_ line and the marker line, if any
	contentEnd int64 // end of the content as stored (mboxrd-quoted), before the separator
	end        int64 // end of the message: the next From_ line, or the end of the spool

	fromLine  []byte // the From_ line without its line ending
	markerUID string // the UIDL of our marker line, "" without one
	xUIDL     string // the value of an X-UIDL header field, "" without one
	xUID      uint32 // the IMAP UID of an X-UID header field (Dovecot, UW-IMAP), 0 without one
	validity  uint32 // the UIDVALIDITY of an X-IMAPbase or X-IMAP field, 0 without one

	uid  string // the UIDL given by describe
	key  string // the content hash, in hex (see measure)
	size int64  // the wire size of the content, after unquoting
}

// layout is the structure of a spool: its messages, in order.
type layout struct {
	msgs     []message
	preamble int64 // bytes before the first From_ line: not a message, kept as they are
	size     int64 // bytes scanned
}

// scanBufferSize is the longest line fragment the scanner looks at at
// once. Lines may be longer; only their first scanBufferSize bytes are
// examined for header fields and From_ lines.
const scanBufferSize = 64 * 1024

// maxFromLine bounds the part of a From_ line that is kept for hashing.
const maxFromLine = 1024

// scanLayout finds the messages of an mbox read from r, without unquoting
// or hashing them (see describe). The rules:
//
//   - A message starts at a line beginning with "From " that is the first
//     line of the spool or follows an empty line ("\n" or "\r\n"). Any other
//     "From " line is part of a message (mboxrd and mboxo quote such lines
//     in bodies, so it only occurs in broken or unquoted spools).
//   - Content-Length is never trusted to make a message longer: it can only
//     end a message early, at a "From " line that sits exactly where the
//     header field says the body ends (optionally after one LF), which is
//     how mboxcl2 writers separate a body that lacks a final line ending.
//     A Content-Length that points anywhere else is ignored, so a message
//     cannot swallow the next one by lying about its length.
//   - The content of a message is what lies between its From_ line (and
//     our marker line, when it is authentic, see marker.go) and the next message, less the empty
//     line that separates them; see finish for exactly which octets.
//
// key is the spool's secret key, which marker lines must be authenticated
// with (see marker.go); with none, no line is taken for a marker.
func scanLayout(r io.Reader, key []byte) (layout, error) {
	s := scanner{key: key}
	br := bufio.NewReaderSize(r, scanBufferSize)
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			s.fragment(frag)
		}
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		return layout{}, err
	}
	s.finish(s.off)
	s.lay.size = s.off
	return s.lay, nil
}

// scanner is the state of scanLayout.
type scanner struct {
	key []byte // the spool's secret key, nil if none
	lay layout
	off int64 // offset of the next byte

	atLineStart bool // the next fragment starts a line
	lineBlank   bool // the current line is "\n" or "\r\n"
	prevBlank   bool // the line before the current one was empty
	started     bool // the spool has had a first line

	tail    [4]byte // the last bytes before off
	tailLen int

	cur *scanMessage // the message being scanned, nil before the first
}

// scanMessage is what the scanner tracks about the current message.
type scanMessage struct {
	message
	lines     int   // lines started since the From_ line
	inHeaders bool  // still in the header section
	bodyStart int64 // offset of the body (after the empty line), -1 if not reached
	cl        int64 // the Content-Length value, -1 if none or invalid
	markerLen int64 // the length of the marker line, -1 without one
}

// fragment processes the next piece of input: a whole line, or part of
// one when the line is longer than the buffer.
func (s *scanner) fragment(frag []byte) {
	if !s.started || s.atLineStart {
		s.lineStart(frag)
		// A line of at most two bytes is never split into fragments.
		s.lineBlank = string(frag) == "\n" || string(frag) == "\r\n"
	} else {
		s.lineBlank = false
		if s.cur != nil && s.cur.lines == 0 && len(s.cur.fromLine) < maxFromLine {
			s.cur.fromLine = append(s.cur.fromLine, frag[:min(len(frag), maxFromLine-len(s.cur.fromLine))]...)
		}
	}
	s.off += int64(len(frag))
	s.remember(frag)
	s.atLineStart = frag[len(frag)-1] == '\n'
	if s.atLineStart && s.cur != nil && s.cur.lines == 0 {
		s.cur.fromLine = bytes.TrimRight(s.cur.fromLine, "\r\n")
		s.cur.content = s.off
	}
}

// lineStart processes the first fragment of a line that starts at s.off.
func (s *scanner) lineStart(frag []byte) {
	if !s.started {
		s.started, s.prevBlank = true, true
	} else {
		s.prevBlank = s.lineBlank
	}
	p := s.off
	if isFromLine(frag) && (s.prevBlank || s.cur.endsByLength(p)) {
		if s.cur == nil {
			s.lay.preamble = p
		} else {
			s.finish(p)
		}
		s.cur = &scanMessage{bodyStart: -1, cl: -1, markerLen: -1, inHeaders: true}
		s.cur.start, s.cur.content = p, p+int64(len(frag))
		s.cur.fromLine = append([]byte(nil), frag[:min(len(frag), maxFromLine)]...)
		return
	}
	m := s.cur
	if m == nil {
		return // preamble
	}
	m.lines++
	line := frag
	complete := line[len(line)-1] == '\n'
	if m.lines == 1 && complete {
		if uid, n, ok := verifyMarker(s.key, m.fromLine, line); ok {
			m.markerUID, m.markerLen = uid, n
			m.content = p + int64(len(line))
			return
		}
	}
	if !m.inHeaders {
		return
	}
	if string(line) == "\n" || string(line) == "\r\n" {
		m.inHeaders = false
		m.bodyStart = p + int64(len(line))
		return
	}
	if line[0] == ' ' || line[0] == '\t' || !complete {
		return // a continuation line, or a field too long to look at
	}
	name, value, ok := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(":"))
	if !ok {
		return
	}
	value = bytes.Trim(value, " \t")
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		m.cl = -1
		if n, err := strconv.ParseInt(string(value), 10, 64); err == nil && n >= 0 {
			m.cl = n
		}
	case bytes.EqualFold(name, []byte("X-UIDL")):
		if m.xUIDL == "" && validUID(value) {
			m.xUIDL = string(value)
		}
	case bytes.EqualFold(name, []byte("X-UID")):
		if n, err := strconv.ParseUint(string(value), 10, 32); err == nil && m.xUID == 0 {
			m.xUID = uint32(n)
		}
	case bytes.EqualFold(name, []byte("X-IMAPbase")), bytes.EqualFold(name, []byte("X-IMAP")):
		// "<uidvalidity> <uidnext> [keywords]"
		first, _, _ := bytes.Cut(value, []byte(" "))
		if n, err := strconv.ParseUint(string(first), 10, 32); err == nil && m.validity == 0 {
			m.validity = uint32(n)
		}
	}
}

// endsByLength reports whether the Content-Length of m says its body ends
// right before offset p (or right before the LF before p).
func (m *scanMessage) endsByLength(p int64) bool {
	if m == nil || m.cl < 0 || m.bodyStart < 0 {
		return false
	}
	end := m.bodyStart + m.cl
	return p == end || p == end+1
}

// remember keeps the last bytes of the input in s.tail.
func (s *scanner) remember(frag []byte) {
	if len(frag) >= len(s.tail) {
		copy(s.tail[:], frag[len(frag)-len(s.tail):])
		s.tailLen = len(s.tail)
		return
	}
	keep := min(s.tailLen, len(s.tail)-len(frag))
	copy(s.tail[:], s.tail[s.tailLen-keep:s.tailLen])
	copy(s.tail[keep:], frag)
	s.tailLen = keep + len(frag)
}

// finish ends the current message at offset end (the input read so far
// ends there) and works out where its content ends:
//
//   - with our marker line, whose length matches the message (the content,
//     then LF or LF LF): exactly that many octets;
//   - else with a Content-Length that matches likewise: the header
//     section and exactly that many octets of body;
//   - else the whole message less its last empty line: one LF when the
//     message ends with LF LF (or is a single LF), CR LF when it ends with
//     CR LF CR LF; at the end of a spool that has no final empty line,
//     nothing is removed.
func (s *scanner) finish(end int64) {
	m := s.cur
	if m == nil {
		s.lay.preamble = end
		return
	}
	if m.lines == 0 && !s.atLineStart {
		// The spool ends inside the From_ line.
		m.fromLine = bytes.TrimRight(m.fromLine, "\r\n")
		m.content = end
	}
	region := end - m.content
	tail := s.tail[max(0, s.tailLen-int(min(region, int64(s.tailLen)))):s.tailLen]
	endsWith := func(rest int64, suffix string) bool {
		return rest == int64(len(suffix)) && bytes.HasSuffix(tail, []byte(suffix))
	}
	m.contentEnd = end
	switch {
	case m.markerLen >= 0 && m.markerLen <= region &&
		(endsWith(region-m.markerLen, "\n") || endsWith(region-m.markerLen, "\n\n")):
		m.contentEnd = m.content + m.markerLen
	case m.cl >= 0 && m.bodyStart >= 0 && m.bodyStart+m.cl <= end &&
		(end == m.bodyStart+m.cl || endsWith(end-m.bodyStart-m.cl, "\n") || endsWith(end-m.bodyStart-m.cl, "\n\n")):
		m.contentEnd = m.bodyStart + m.cl
	case region >= 1 && bytes.HasSuffix(tail, []byte("\n")) && (region == 1 || bytes.HasSuffix(tail, []byte("\n\n"))):
		m.contentEnd = end - 1
	case region >= 2 && bytes.HasSuffix(tail, []byte("\r\n")) && (region == 2 || bytes.HasSuffix(tail, []byte("\r\n\r\n"))):
		m.contentEnd = end - 2
	}
	m.end = end
	s.lay.msgs = append(s.lay.msgs, m.message)
	s.cur = nil
}
