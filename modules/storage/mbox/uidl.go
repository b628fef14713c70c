package mbox

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// volatileFields are header fields that mail readers and IMAP servers
// rewrite in place in an mbox (read flags, keywords, their own UIDs and
// lengths). They are left out of a message's content hash, so that
// reading a message in mutt does not change its UIDL.
var volatileFields = [][]byte{
	[]byte("Status"), []byte("X-Status"), []byte("X-Keywords"), []byte("X-UID"),
	[]byte("X-IMAP"), []byte("X-IMAPbase"), []byte("Content-Length"), []byte("Lines"),
	[]byte("X-Mozilla-Status"), []byte("X-Mozilla-Status2"), []byte("X-Mozilla-Keys"),
}

// describe reads every message of lay from f (unquoted, as the handler
// will send it) to measure its wire size, and gives each message its UIDL:
//
//   - the UIDL of our marker line, given at delivery (see marker.go);
//   - else the value of an X-UIDL header field (as qpopper and others
//     wrote it), when it is a valid UIDL;
//   - else "h" and 32 hex digits of a SHA-256 of the From_ line and the
//     content (less the volatile header fields and the final line endings),
//     and "-2", "-3", ... for the second, third, ... message with the same
//     hash.
//
// A UIDL that an earlier message already has is never given twice: the
// later message falls back to the next rule. (Messages with the same
// X-UIDL claim to be the same message, a copy delivered again: when the
// first is deleted, the next one takes its UIDL over.) Hash UIDLs survive the
// deletion of other messages; only among byte-identical messages with
// identical From_ lines (same sender, same second) can the deletion of one
// renumber the ones after it, and those have the same content anyway.
func describe(f io.ReaderAt, lay *layout) error {
	used := make(map[string]bool, len(lay.msgs))
	seen := make(map[string]int)
	for i := range lay.msgs {
		m := &lay.msgs[i]
		sum, err := measure(f, m)
		if err != nil {
			return err
		}
		switch {
		case m.markerUID != "" && !used[m.markerUID]:
			m.uid = m.markerUID
		case m.xUIDL != "" && !used[m.xUIDL]:
			m.uid = m.xUIDL
		default:
			base := "h" + hex.EncodeToString(sum[:16])
			for {
				seen[base]++
				m.uid = base
				if n := seen[base]; n > 1 {
					m.uid = base + "-" + strconv.Itoa(n)
				}
				if !used[m.uid] {
					break
				}
			}
		}
		used[m.uid] = true
	}
	return nil
}

// measure reads the content of m from f, sets m.size and returns the
// content hash.
func measure(f io.ReaderAt, m *message) ([sha256.Size]byte, error) {
	h := sha256.New()
	h.Write(m.fromLine)
	h.Write([]byte{'\n'})
	th := &trimHasher{h: h}
	var sizer storage.WireSizer

	br := bufio.NewReaderSize(openContent(f, m), scanBufferSize)
	inHeaders, atLineStart, skipping := true, true, false
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			_, _ = sizer.Write(frag)
			if inHeaders && atLineStart {
				switch {
				case string(frag) == "\n" || string(frag) == "\r\n":
					inHeaders, skipping = false, false
				case frag[0] == ' ' || frag[0] == '\t':
					// a continuation line: skipped with its field
				default:
					skipping = isVolatileField(frag)
				}
			}
			if !inHeaders || !skipping {
				th.Write(frag)
			}
			atLineStart = frag[len(frag)-1] == '\n'
		}
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		return [sha256.Size]byte{}, err
	}
	m.size = sizer.Size()
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// openContent returns the content of m as the handler sends it: read from
// f and unquoted.
func openContent(f io.ReaderAt, m *message) io.Reader {
	return newUnquoteReader(io.NewSectionReader(f, m.content, m.contentEnd-m.content))
}

// isVolatileField reports whether line starts a header field listed in
// volatileFields.
func isVolatileField(line []byte) bool {
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return false
	}
	for _, v := range volatileFields {
		if bytes.EqualFold(name, v) {
			return true
		}
	}
	return false
}

// trimHasher hashes what is written to it except the line endings at the
// very end: it holds back a run of CR and LF until something else follows
// it. A message whose final line ending is added or lost (by another mbox
// program, or at the end of a spool) keeps its hash.
type trimHasher struct {
	h       hash.Hash
	pending []byte // CR and LF bytes not hashed yet
}

// Write hashes p, holding back its trailing line endings.
func (t *trimHasher) Write(p []byte) {
	j := len(p) - 1
	for j >= 0 && (p[j] == '\r' || p[j] == '\n') {
		j--
	}
	if j < 0 {
		t.pending = append(t.pending, p...)
		return
	}
	t.h.Write(t.pending)
	t.pending = t.pending[:0]
	t.h.Write(p[:j+1])
	t.pending = append(t.pending, p[j+1:]...)
}
