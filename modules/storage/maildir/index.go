package maildir

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// The listing cache lives in memory, so the first login after a restart
// lists and parses the whole maildir. The index file keeps the cached
// listing in the maildir, with the same stamps: a first login whose
// stamps (cur/, new/, dovecot-uidlist) are exactly those of the index
// reads the index instead of the directories (and checks it against the
// names in them first when it is not verified, as a cached listing).
// A full index is written atomically (a temporary file renamed over it)
// with a SHA-256 of its content, so a torn or edited file is ignored.
// A small change (mail moved in from new/, deletions) is appended to it
// as a journal record instead (see indexjournal.go), which carries its
// length and its own SHA-256 and names the stamps it follows from, so a
// torn append is ignored with everything after it. Any change of the
// maildir by another program changes a stamp and makes the index stale.
// Every name it gives is checked as a name read from a directory would be
// (no '/', no leading dot), and every UIDL for validity and uniqueness,
// so that even a forged index cannot make a session reach outside cur/
// and new/.
const (
	// IndexFileName is the index of a maildir's listing, in its root.
	IndexFileName = "caddy-pop3.index"
	// indexTempName is where a new index is written before it is renamed
	// over the old one; the maildrop's lock keeps writers apart.
	indexTempName = IndexFileName + ".new"
	// indexMagic is the first line of an index.
	indexMagic = "caddy-pop3-index 2"
	// maxIndexSize bounds what is read of an index.
	maxIndexSize = 256 << 20
)

// indexHits counts logins served from an index file.
var indexHits atomic.Int64

// Index writes, for tests and benchmarks.
var (
	// indexRewrites counts index files written whole.
	indexRewrites atomic.Int64
	// indexAppends counts journal records appended to an index file.
	indexAppends atomic.Int64
)

// errIndexMoved says that the index file is not the one a listing was
// read from or written as (another process rewrote it, or appended).
var errIndexMoved = errors.New("maildir: the index file changed")

// indexState identifies the index file as it was when a listing was
// written to it or read from it: its device and inode, the bytes of it
// that were good, and how many of those are journal records.
type indexState struct {
	dev, ino      uint64
	size, journal int64
}

// encodeIndex returns the index file of the listing l, or nil when one of
// its names cannot be written in it (a newline).
func encodeIndex(l *listing) []byte {
	var b bytes.Buffer
	b.Grow(len(l.arena) + len(l.entries)*24 + 512)
	fmt.Fprintf(&b, "%s\n%s\n", indexMagic, strconv.Quote(l.format))
	writeStamps(&b, l.stamps)
	verified := 0
	if l.verified {
		verified = 1
	}
	fmt.Fprintf(&b, "verified %d\n%d\n", verified, len(l.entries))
	files, msgs := l.expand()
	for i, f := range files {
		if !writeIndexEntry(&b, f, msgs[i]) {
			return nil
		}
	}
	sum := sha256.Sum256(b.Bytes())
	fmt.Fprintf(&b, "sha256 %s\n", hex.EncodeToString(sum[:]))
	return b.Bytes()
}

// writeStamps writes the three stamps of st, a line each.
func writeStamps(b *bytes.Buffer, st stamps) {
	for _, s := range []dirStamp{st.cur, st.new, st.uidlist} {
		fmt.Fprintf(b, "%d %d %d %d %d\n", s.dev, s.ino, s.mtime, s.ctime, s.size)
	}
}

// writeIndexEntry writes the line "<c|n> <size> <uidl> <name>" of a
// message; it reports false for a name that cannot be written (a newline).
func writeIndexEntry(b *bytes.Buffer, f file, m storage.Message) bool {
	if strings.ContainsAny(f.name, "\n\r") {
		return false
	}
	d := byte('c')
	if f.dir == dirNew {
		d = 'n'
	}
	b.WriteByte(d)
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(m.Size, 10))
	b.WriteByte(' ')
	b.WriteString(m.UID)
	b.WriteByte(' ')
	b.WriteString(f.name)
	b.WriteByte('\n')
	return true
}

// errBadIndex says that an index file is not one this version wrote.
var errBadIndex = errors.New("maildir: not a valid index")

// decodeIndex parses an index file into a listing (root not set),
// applying the journal records that follow the full listing up to the
// first that is torn, damaged or does not follow from the state before
// it. The listing's index state has the bytes that were good.
func decodeIndex(data []byte) (*listing, error) {
	lines := lineReader{data: data}
	if s, ok := lines.next(); !ok || s != indexMagic {
		return nil, errBadIndex
	}
	s, ok := lines.next()
	if !ok {
		return nil, errBadIndex
	}
	format, err := strconv.Unquote(s)
	if err != nil {
		return nil, errBadIndex
	}
	st, ok := readStamps(&lines)
	if !ok {
		return nil, errBadIndex
	}
	s, _ = lines.next()
	verified := s == "verified 1"
	if !verified && s != "verified 0" {
		return nil, errBadIndex
	}
	s, ok = lines.next()
	count, err := strconv.Atoi(s)
	if !ok || err != nil || count < 0 || count > len(data)/8 {
		return nil, errBadIndex
	}
	files := make([]file, 0, count)
	msgs := make([]storage.Message, 0, count)
	used := make(map[string]bool, count)
	for range count {
		s, ok := lines.next()
		if !ok {
			return nil, errBadIndex
		}
		f, m, ok := parseIndexLine(s)
		if !ok || used[m.UID] {
			return nil, errBadIndex
		}
		used[m.UID] = true
		files = append(files, f)
		msgs = append(msgs, m)
	}
	body := data[:lines.off]
	sum := sha256.Sum256(body)
	if s, ok := lines.next(); !ok || s != "sha256 "+hex.EncodeToString(sum[:]) {
		return nil, errBadIndex
	}
	base := lines.off
	// The journal: each record that follows from the state so far.
	jr := newJournalReplay(files, msgs, used)
	for {
		rec, next, ok := nextJournalRecord(data, lines.off)
		if !ok {
			break
		}
		j, ok := decodeJournalRecord(rec)
		if !ok || j.from != st {
			break
		}
		if !jr.apply(j) {
			return nil, errBadIndex // the full listing was lost on the way
		}
		st, verified = j.to, false
		lines.off = next
	}
	files, msgs = jr.result()
	l := newListing(files, msgs)
	if l == nil {
		return nil, errBadIndex
	}
	l.format, l.stamps, l.verified = format, st, verified
	l.index = indexState{size: int64(lines.off), journal: int64(lines.off - base)}
	return l, nil
}

// readStamps reads the three stamp lines of a listing state.
func readStamps(lines *lineReader) (stamps, bool) {
	var st stamps
	for _, d := range []*dirStamp{&st.cur, &st.new, &st.uidlist} {
		s, ok := lines.next()
		if !ok {
			return st, false
		}
		if n, err := fmt.Sscanf(s, "%d %d %d %d %d", &d.dev, &d.ino, &d.mtime, &d.ctime, &d.size); n != 5 || err != nil {
			return st, false
		}
	}
	return st, true
}

// lineReader returns the lines of data one by one (without their
// newline); a last line without a newline is not one.
type lineReader struct {
	data []byte
	off  int
}

// next returns the next line, or false at the end.
func (r *lineReader) next() (string, bool) {
	i := bytes.IndexByte(r.data[r.off:], '\n')
	if i < 0 {
		return "", false
	}
	s := string(r.data[r.off : r.off+i])
	r.off += i + 1
	return s, true
}

// parseIndexLine parses "<c|n> <size> <uidl> <name>", checking that the
// name is one a directory listing could give.
func parseIndexLine(s string) (file, storage.Message, bool) {
	var f file
	var m storage.Message
	d, rest, ok := strings.Cut(s, " ")
	switch {
	case !ok:
		return f, m, false
	case d == "c":
		f.dir = dirCur
	case d == "n":
		f.dir = dirNew
	default:
		return f, m, false
	}
	size, rest, ok := strings.Cut(rest, " ")
	uid, name, ok2 := strings.Cut(rest, " ")
	n, err := strconv.ParseInt(size, 10, 64)
	if !ok || !ok2 || err != nil || n < 0 || !validUID(uid) || !indexableName(name) {
		return f, m, false
	}
	f.name, f.base = name, baseOf(name)
	m.UID, m.Size = uid, n
	return f, m, true
}

// indexableName reports whether name could be that of a message file
// listed in cur/ or new/: one path element, not hidden.
func indexableName(name string) bool {
	return name != "" && len(name) <= math.MaxUint16 && !strings.HasPrefix(name, ".") &&
		!strings.ContainsAny(name, "/\x00\n\r")
}

// readIndex returns the listing in the maildir's index file when it was
// made with format; nil otherwise (no index, a damaged one). The caller
// compares its stamps with the directories': a listing whose new/ changed
// since can be extended, a stale one still knows the sizes of messages.
func (md *maildrop) readIndex(format string) *listing {
	info, err := md.dir.lstat(IndexFileName)
	if err != nil || !info.regular || info.size > maxIndexSize {
		return nil
	}
	f, err := md.dir.openMessage(IndexFileName)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(onlyReader{f}, maxIndexSize+1))
	if err != nil || len(data) > maxIndexSize {
		return nil
	}
	l, err := decodeIndex(data)
	if err != nil || l.format != format {
		return nil
	}
	l.index.dev, l.index.ino = info.dev, info.ino
	if int64(len(data)) != l.index.size {
		l.index = indexState{} // a torn record at the end: append no more
	}
	return l
}

// writeIndex replaces the maildir's index file by one of l, and records
// in l what the file is then. A failure is logged at debug level only:
// the index is an optimization.
func (md *maildrop) writeIndex(l *listing) {
	data := encodeIndex(l)
	if data == nil || len(data) > maxIndexSize {
		return
	}
	_ = md.dir.unlink(indexTempName) // a leftover of a crash; we hold the lock
	f, err := md.dir.create(indexTempName)
	if err != nil {
		md.logger.Debug("cannot write the listing index", zap.Error(err))
		return
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(md.dir, indexTempName, md.dir, IndexFileName)
	}
	if err != nil {
		_ = md.dir.unlink(indexTempName)
		md.logger.Debug("cannot write the listing index", zap.Error(err))
		return
	}
	indexRewrites.Add(1)
	if info, err := md.dir.lstat(IndexFileName); err == nil && info.size == int64(len(data)) {
		l.index = indexState{dev: info.dev, ino: info.ino, size: int64(len(data))}
	}
}
