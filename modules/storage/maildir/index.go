package maildir

import (
	"bufio"
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
// reads the index instead of the directories. It is written only when a
// listing is cached (so its directories had settled, the 2-second rule),
// atomically (a temporary file renamed over it) and with a SHA-256 of its
// content, so a torn or edited file is ignored; any change of the maildir
// changes a stamp and makes the index stale. Every name it gives is
// checked as a name read from a directory would be (no '/', no leading
// dot), and every UIDL for validity and uniqueness, so that even a forged
// index cannot make a session reach outside cur/ and new/.
const (
	// IndexFileName is the index of a maildir's listing, in its root.
	IndexFileName = "caddy-pop3.index"
	// indexTempName is where a new index is written before it is renamed
	// over the old one; the maildrop's lock keeps writers apart.
	indexTempName = IndexFileName + ".new"
	// indexMagic is the first line of an index.
	indexMagic = "caddy-pop3-index 1"
	// maxIndexSize bounds what is read of an index.
	maxIndexSize = 256 << 20
)

// indexHits counts logins served from an index file.
var indexHits atomic.Int64

// encodeIndex returns the index file of the listing l, or nil when one of
// its names cannot be written in it (a newline).
func encodeIndex(l *listing) []byte {
	var b bytes.Buffer
	b.Grow(len(l.arena) + len(l.entries)*24 + 512)
	fmt.Fprintf(&b, "%s\n%s\n", indexMagic, strconv.Quote(l.format))
	for _, s := range []dirStamp{l.cur, l.new, l.uidlist} {
		fmt.Fprintf(&b, "%d %d %d %d %d\n", s.dev, s.ino, s.mtime, s.ctime, s.size)
	}
	fmt.Fprintf(&b, "%d\n", len(l.entries))
	files, msgs := l.expand()
	for i, f := range files {
		if strings.ContainsAny(f.name, "\n\r") {
			return nil
		}
		d := byte('c')
		if f.dir == dirNew {
			d = 'n'
		}
		b.WriteByte(d)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(msgs[i].Size, 10))
		b.WriteByte(' ')
		b.WriteString(msgs[i].UID)
		b.WriteByte(' ')
		b.WriteString(f.name)
		b.WriteByte('\n')
	}
	sum := sha256.Sum256(b.Bytes())
	fmt.Fprintf(&b, "sha256 %s\n", hex.EncodeToString(sum[:]))
	return b.Bytes()
}

// errBadIndex says that an index file is not one this version wrote.
var errBadIndex = errors.New("maildir: not a valid index")

// decodeIndex parses an index file into a listing (root not set).
func decodeIndex(data []byte) (*listing, error) {
	body, tail, ok := cutLastLine(data)
	if !ok {
		return nil, errBadIndex
	}
	sum := sha256.Sum256(body)
	if tail != "sha256 "+hex.EncodeToString(sum[:]) {
		return nil, errBadIndex
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, math.MaxUint16+256)
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	if s, ok := line(); !ok || s != indexMagic {
		return nil, errBadIndex
	}
	s, ok := line()
	if !ok {
		return nil, errBadIndex
	}
	format, err := strconv.Unquote(s)
	if err != nil {
		return nil, errBadIndex
	}
	var stamps [3]dirStamp
	for i := range stamps {
		s, ok := line()
		if !ok {
			return nil, errBadIndex
		}
		st := &stamps[i]
		if n, err := fmt.Sscanf(s, "%d %d %d %d %d", &st.dev, &st.ino, &st.mtime, &st.ctime, &st.size); n != 5 || err != nil {
			return nil, errBadIndex
		}
	}
	s, ok = line()
	count, err := strconv.Atoi(s)
	if !ok || err != nil || count < 0 || count > len(body)/8 {
		return nil, errBadIndex
	}
	files := make([]file, 0, count)
	msgs := make([]storage.Message, 0, count)
	used := make(map[string]bool, count)
	for sc.Scan() {
		f, m, ok := parseIndexLine(sc.Text())
		if !ok || used[m.UID] || len(files) == count {
			return nil, errBadIndex
		}
		used[m.UID] = true
		files = append(files, f)
		msgs = append(msgs, m)
	}
	if sc.Err() != nil || len(files) != count {
		return nil, errBadIndex
	}
	l := newListing(files, msgs)
	if l == nil {
		return nil, errBadIndex
	}
	l.format, l.cur, l.new, l.uidlist = format, stamps[0], stamps[1], stamps[2]
	return l, nil
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

// cutLastLine splits data into everything up to its last line and that
// line (without its newline); data must end with a newline.
func cutLastLine(data []byte) ([]byte, string, bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, "", false
	}
	i := bytes.LastIndexByte(data[:len(data)-1], '\n')
	if i < 0 {
		return nil, "", false
	}
	return data[:i+1], string(data[i+1 : len(data)-1]), true
}

// readIndex returns the listing in the maildir's index file when it was
// made with format and its stamps are exactly cur, new and uidlist; nil
// otherwise (no index, a stale or damaged one).
func (md *maildrop) readIndex(format string, cur, new, uidlist dirStamp) *listing {
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
	if err != nil || l.format != format || l.cur != cur || l.new != new || l.uidlist != uidlist {
		return nil
	}
	return l
}

// writeIndex replaces the maildir's index file by one of l. A failure is
// logged at debug level only: the index is an optimization.
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
	}
}
