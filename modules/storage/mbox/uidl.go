//go:build unix

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

	"github.com/caddy-pop3/caddy-pop3/internal/dovecotuidl"
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
// will send it) to measure its wire size and hash its content, and gives
// each message its UIDL. saved is the spool's UIDL list (see uidlist.go);
// describe returns the list as it must be now, one entry for every
// message without a marker line, in order.
//
//   - A message with an authentic marker line (see marker.go) has the
//     UIDL given at delivery.
//   - Any other message takes the next UIDL saved for its content hash
//     that no message before it took: the UIDL it was shown with before.
//   - A message seen for the first time gets the UIDL Dovecot showed for
//     it when the spool has Dovecot's (or UW-IMAP's) X-IMAPbase/X-IMAP
//     UIDVALIDITY and the message an X-UID: format (uidl_format, by
//     default Dovecot's %08Xu%08Xv) applied to them. Else the value of its X-UIDL header field (as qpopper,
//     UW-IMAP and Dovecot's pop3 wrote it). Either only when it is a
//     valid UIDL that no other message has and that is not saved; else
//     "h" and the first 32 hex digits of its content hash, with "-2",
//     "-3", ... when that is taken.
//
// No UIDL is given twice. Once shown, a UIDL stays with its message: a
// second message with the same X-UIDL, or the second of two identical
// messages, keeps the UIDL it got when the first is deleted.
func describe(f io.ReaderAt, lay *layout, saved []uidEntry, format *dovecotuidl.Format) ([]uidEntry, error) {
	used := make(map[string]bool, len(lay.msgs))
	validity := spoolValidity(lay)
	for i := range lay.msgs {
		m := &lay.msgs[i]
		sum, err := measure(f, m)
		if err != nil {
			return nil, err
		}
		m.key = hex.EncodeToString(sum[:])
		m.uid = ""
		if m.markerUID != "" && !used[m.markerUID] {
			m.uid = m.markerUID
			used[m.uid] = true
		}
	}
	pool := make(map[string][]string)
	reserved := make(map[string]bool, len(saved))
	for _, e := range saved {
		pool[e.key] = append(pool[e.key], e.uid)
		reserved[e.uid] = true
	}
	for i := range lay.msgs {
		m := &lay.msgs[i]
		if m.uid != "" {
			continue
		}
		for q := pool[m.key]; len(q) > 0; q = q[1:] {
			if !used[q[0]] {
				m.uid = q[0]
				pool[m.key] = q[1:]
				used[m.uid] = true
				break
			}
		}
	}
	// Messages seen for the first time that Dovecot listed take the UIDL
	// it showed before any X-UIDL header (which may come from a sender)
	// can take it.
	if validity != 0 {
		for i := range lay.msgs {
			m := &lay.msgs[i]
			if m.uid != "" || m.xUID == 0 {
				continue
			}
			if u := format.Expand(dovecotuidl.Vars{UID: m.xUID, Validity: validity}); validUID([]byte(u)) && !used[u] && !reserved[u] {
				m.uid = u
				used[u] = true
			}
		}
	}
	var list []uidEntry
	for i := range lay.msgs {
		m := &lay.msgs[i]
		if m.markerUID != "" && m.uid == m.markerUID {
			continue
		}
		if m.uid == "" {
			m.uid = newUIDFor(m, used, reserved)
			used[m.uid] = true
		}
		list = append(list, uidEntry{key: m.key, uid: m.uid})
	}
	return list, nil
}

// newUIDFor returns the UIDL of a message seen for the first time (see
// describe), one that is neither used nor reserved.
func newUIDFor(m *message, used, reserved map[string]bool) string {
	free := func(u string) bool { return !used[u] && !reserved[u] }
	if m.xUIDL != "" && free(m.xUIDL) {
		return m.xUIDL
	}
	base := "h" + m.key[:32]
	if free(base) {
		return base
	}
	for n := 2; ; n++ {
		if u := base + "-" + strconv.Itoa(n); free(u) {
			return u
		}
	}
}

// spoolValidity returns the UIDVALIDITY that Dovecot or UW-IMAP recorded
// in the spool: in an X-IMAPbase (or X-IMAP) field of its first message
// that has one. 0 when there is none.
func spoolValidity(lay *layout) uint32 {
	for i := range lay.msgs {
		if v := lay.msgs[i].validity; v != 0 {
			return v
		}
	}
	return 0
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
