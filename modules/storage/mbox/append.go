//go:build unix

package mbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// A delivery appends its record (the separator, the From_ line, the
// marker line and the message) so that a crash at any point never leaves
// a partial message that is served as complete:
//
//  1. It writes an append note beside the spool, "caddy-pop3 append
//     <offset> <length> <sha256 of the record> <hex of the record's first
//     lines>", and syncs it (and the directory).
//  2. It extends the spool to offset+length at once (ftruncate): the
//     space of the record is reserved, so that whatever anyone appends
//     after a crash (an MTA that uses only flock or fcntl, whose locks the
//     kernel frees when this process dies) lands after it, never inside.
//  3. It writes the record into that space and syncs the spool.
//  4. It removes the note.
//
// Whoever takes the spool's locks next in this server (a session, a
// delivery) first looks for a note (see repairAppend). If the record is
// there and complete, only the note goes; if it is partial (its first
// lines followed by zeros, or zeros only), the reserved space is cut out of
// the spool: truncated away when nothing follows it, else removed by an
// in-place rewrite behind the journal, keeping what others appended.

// appendNotePath returns the name of the append note of spool.
func appendNotePath(spool string) string {
	return filepath.Join(filepath.Dir(spool), "."+filepath.Base(spool)+".caddy-pop3.append")
}

// appendMagic starts an append note.
const appendMagic = "caddy-pop3 append "

// maxNotePrefix bounds the first lines of a record kept in its note: the
// separator, the From_ line (at most maxSender and a date) and the marker
// line.
const maxNotePrefix = 1024

// appendNote is a delivery that may not have completed.
type appendNote struct {
	offset, length int64
	sum            [sha256.Size]byte
	prefix         []byte // the record's first lines, up to the end of the marker line
}

// recordPrefix returns the first lines of region (a separator and a
// record): up to and including the second line break after the From_
// line's start, at most maxNotePrefix octets.
func recordPrefix(region []byte) []byte {
	start := 0
	for start < len(region) && region[start] == '\n' {
		start++
	}
	end := start
	for k := 0; k < 2; k++ {
		i := bytes.IndexByte(region[end:], '\n')
		if i < 0 {
			end = len(region)
			break
		}
		end += i + 1
	}
	return region[:min(end, maxNotePrefix)]
}

// appendRecord writes rec at the end of the spool f (at path), after an
// empty line if the spool does not end with one (so that the From_ line
// starts a message), and syncs it; see the comment above for the order
// of the steps. On a failure it truncates the spool back to its size
// before, so that no partial message stays behind.
func appendRecord(path string, f *os.File, rec []byte) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	var sep []byte
	if size > 0 {
		last := make([]byte, min(size, 2))
		if _, err := f.ReadAt(last, size-int64(len(last))); err != nil {
			return fmt.Errorf("reading the end of the spool: %w", err)
		}
		switch {
		case string(last) == "\n\n" || (size == 1 && string(last) == "\n"):
		case last[len(last)-1] == '\n':
			sep = []byte("\n")
		default:
			sep = []byte("\n\n")
		}
	}
	buf := append(sep, rec...)
	note := &appendNote{offset: size, length: int64(len(buf)), sum: sha256.Sum256(buf), prefix: recordPrefix(buf)}
	if err := note.write(path); err != nil {
		return fmt.Errorf("writing the append note: %w", err)
	}
	undo := func(err error) error {
		if terr := f.Truncate(size); terr == nil && f.Sync() == nil {
			_ = os.Remove(appendNotePath(path))
		}
		return err
	}
	if err := f.Truncate(size + int64(len(buf))); err != nil {
		return undo(fmt.Errorf("reserving space: %w", err))
	}
	if appendStage != nil {
		appendStage("reserved")
	}
	if _, err := f.WriteAt(buf, size); err != nil {
		return undo(fmt.Errorf("writing: %w", err))
	}
	if appendStage != nil {
		appendStage("written")
	}
	if err := f.Sync(); err != nil {
		return undo(fmt.Errorf("syncing: %w", err))
	}
	if err := os.Remove(appendNotePath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// The message is complete; the next locker finds so and
		// removes the note.
		return nil
	}
	return nil
}

// appendStage, when not nil, is called by appendRecord after it reserved
// the space ("reserved") and after it wrote the record, before syncing it
// ("written"): tests stop or kill a delivery there.
var appendStage func(stage string)

// write writes the note of spool and syncs it and its directory.
func (n *appendNote) write(spool string) error {
	line := fmt.Sprintf("%s%d %d %s %s\n", appendMagic, n.offset, n.length, hex.EncodeToString(n.sum[:]), hex.EncodeToString(n.prefix))
	f, err := os.OpenFile(appendNotePath(spool), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(line)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return err
	}
	return syncDir(filepath.Dir(spool))
}

// readAppendNote reads the append note of spool: nil when there is none,
// or when it is not a note (then it is removed: nothing can be done with
// it).
func readAppendNote(spool string) (*appendNote, error) {
	f, err := os.OpenFile(appendNotePath(spool), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4*maxNotePrefix))
	if err != nil {
		return nil, err
	}
	n, ok := parseAppendNote(b)
	if !ok {
		return nil, os.Remove(appendNotePath(spool))
	}
	return n, nil
}

// parseAppendNote parses the content of an append note.
func parseAppendNote(b []byte) (*appendNote, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(appendMagic))
	if !ok {
		return nil, false
	}
	rest, ok = bytes.CutSuffix(rest, []byte("\n"))
	fields := bytes.Fields(rest)
	if !ok || len(fields) != 4 {
		return nil, false
	}
	n := &appendNote{}
	var err1, err2 error
	n.offset, err1 = strconv.ParseInt(string(fields[0]), 10, 64)
	n.length, err2 = strconv.ParseInt(string(fields[1]), 10, 64)
	if err1 != nil || err2 != nil || n.offset < 0 || n.length <= 0 {
		return nil, false
	}
	if k, err := hex.Decode(n.sum[:], fields[2]); err != nil || k != sha256.Size {
		return nil, false
	}
	prefix, err := hex.DecodeString(string(fields[3]))
	if err != nil || len(prefix) == 0 || int64(len(prefix)) > n.length {
		return nil, false
	}
	n.prefix = prefix
	return n, true
}

// repairAppend finishes what a delivery that did not complete left in
// the spool f (at spool), which the caller has locked: see the comment at
// the top of this file. shift is how far a commit's journal replayed
// before it moved the mail appended after that commit's crash towards
// the start of the spool (0 if it did not): the record may lie there now.
func repairAppend(spool string, f *os.File, shift int64) error {
	n, err := readAppendNote(spool)
	if err != nil || n == nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	candidates := []int64{n.offset}
	if shift > 0 && n.offset-shift >= 0 {
		candidates = append(candidates, n.offset-shift)
	}
	for _, at := range candidates {
		if at+n.length < size && !noJournal(spool) {
			// Cutting the record out needs the journal, which a
			// crashed commit still holds: the next session replays
			// it first, then repairs this.
			return nil
		}
		mine, err := n.isAt(f, at, size)
		if err != nil {
			return err
		}
		if !mine {
			continue
		}
		complete, err := n.completeAt(f, at)
		if err != nil {
			return err
		}
		switch {
		case complete:
		case at+n.length == size:
			if err := f.Truncate(at); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
		default:
			if err := cutOut(spool, f, at, at+n.length, size); err != nil {
				return err
			}
		}
		break
	}
	return os.Remove(appendNotePath(spool))
}

// noJournal reports whether spool has no journal of a commit to replay.
func noJournal(spool string) bool {
	_, err := os.Lstat(journalPath(spool))
	return errors.Is(err, fs.ErrNotExist)
}

// isAt reports whether the reserved space of the note's record starts at
// offset at of f (of size size): the space fits, and it begins with the
// record's first lines, or a beginning of them, followed by zeros only.
func (n *appendNote) isAt(f io.ReaderAt, at, size int64) (bool, error) {
	if at+n.length > size {
		return false, nil
	}
	b := make([]byte, len(n.prefix))
	if _, err := f.ReadAt(b, at); err != nil {
		return false, err
	}
	i := 0
	for i < len(b) && b[i] == n.prefix[i] {
		i++
	}
	for _, c := range b[i:] {
		if c != 0 {
			return false, nil
		}
	}
	return true, nil
}

// completeAt reports whether the whole record is at offset at of f.
func (n *appendNote) completeAt(f io.ReaderAt, at int64) (bool, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, at, n.length)); err != nil {
		return false, err
	}
	return bytes.Equal(h.Sum(nil), n.sum[:]), nil
}

// cutOut removes the octets [from, to) of the spool f (of size size), in
// place behind the journal, keeping what lies after them.
func cutOut(spool string, f *os.File, from, to, size int64) error {
	lay := layout{preamble: from, msgs: []message{{start: to, end: size}}}
	tmp, err := writeSpool(spool, f, lay, nil)
	if err != nil {
		return err
	}
	return rewriteInPlace(spool, tmp, f, size)
}
