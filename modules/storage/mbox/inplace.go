// Unix gives mbox the journaled in-place rewrite used when a spool's owner cannot be kept.

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

// A commit rewrites the spool in place, as Dovecot does, so that the
// spool stays the same file: an MTA that opened it and waits for one of
// the locks writes into the spool, not into an unlinked old copy. A redo
// journal makes the rewrite safe against a crash at any point:
//
//  1. The new content, already written and synced to the temporary file,
//     gets a trailer line "caddy-pop3 journal <old length> <new length>
//     <sha256 of the old spool's octets from new length to old length>",
//     is synced and renamed to the journal's name: from here on, the
//     journal is the truth.
//  2. The new content is written over the start of the spool, which is
//     synced.
//  3. If the spool grew meanwhile (a program that ignores the locks
//     appended with O_APPEND), a new journal is made of the content and
//     what was appended, and the rewrite starts again from step 1 with
//     it; otherwise the spool is truncated to the new length and synced.
//  4. The journal is removed.
//
// The next session replays a journal it finds (see replayJournal). Mail
// appended after a crash (by an MTA that took over the stale locks) is
// kept: it lies after the old length if the spool was not truncated yet,
// after the new length if it was, and the hash of the old tail tells which.

// journalPath returns the name of the journal of spool.
func journalPath(spool string) string {
	return filepath.Join(filepath.Dir(spool), "."+filepath.Base(spool)+".caddy-pop3.journal")
}

// journalMagic starts the trailer line of a journal.
const journalMagic = "caddy-pop3 journal "

// maxTrailer bounds the length of a journal's trailer line.
const maxTrailer = 256

// journal is a committed in-place rewrite of a spool.
type journal struct {
	path    string
	oldLen  int64             // the spool's length before the rewrite
	newLen  int64             // the new content's length
	tailSum [sha256.Size]byte // hash of the old spool's octets [newLen, oldLen)
}

// commitJournal turns the temporary file tmp (the new content, synced)
// into the journal of the in-place rewrite of spool, whose descriptor is f
// and whose length is oldLen.
func commitJournal(spool, tmp string, f *os.File, oldLen int64) (*journal, error) {
	st, err := os.Stat(tmp)
	if err != nil {
		return nil, err
	}
	j := &journal{path: journalPath(spool), oldLen: oldLen, newLen: st.Size()}
	if j.newLen >= oldLen {
		return nil, fmt.Errorf("in-place rewrite would not shrink the spool (%d to %d octets)", oldLen, j.newLen)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, j.newLen, oldLen-j.newLen)); err != nil {
		return nil, fmt.Errorf("reading the spool: %w", err)
	}
	h.Sum(j.tailSum[:0])

	t, err := os.OpenFile(tmp, os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	trailer := fmt.Sprintf("%s%d %d %s\n", journalMagic, j.oldLen, j.newLen, hex.EncodeToString(j.tailSum[:]))
	_, werr := t.WriteString(trailer)
	serr := t.Sync()
	cerr := t.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("writing the journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return nil, fmt.Errorf("committing the journal: %w", err)
	}
	if err := syncDir(filepath.Dir(spool)); err != nil {
		return nil, fmt.Errorf("committing the journal: %w", err)
	}
	return j, nil
}

// openJournal reads the trailer of the journal of spool. It returns nil
// when there is no journal.
func openJournal(spool string) (*journal, error) {
	path := journalPath(spool)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	tail := make([]byte, min(st.Size(), maxTrailer))
	if _, err := f.ReadAt(tail, st.Size()-int64(len(tail))); err != nil {
		return nil, err
	}
	bad := fmt.Errorf("journal %s is damaged; the kept mail is in it, before its last line", path)
	tail, ok := bytes.CutSuffix(tail, []byte("\n"))
	if !ok {
		return nil, bad
	}
	line := tail[bytes.LastIndexByte(tail, '\n')+1:]
	fields, ok := bytes.CutPrefix(line, []byte(journalMagic))
	parts := bytes.Fields(fields)
	if !ok || len(parts) != 3 {
		return nil, bad
	}
	j := &journal{path: path}
	j.oldLen, err = strconv.ParseInt(string(parts[0]), 10, 64)
	if err != nil {
		return nil, bad
	}
	j.newLen, err = strconv.ParseInt(string(parts[1]), 10, 64)
	if err != nil || j.newLen+int64(len(line))+1 != st.Size() || j.newLen >= j.oldLen {
		return nil, bad
	}
	if n, err := hex.Decode(j.tailSum[:], parts[2]); err != nil || n != sha256.Size {
		return nil, bad
	}
	return j, nil
}

// apply carries out steps 2 to 4 on the spool f (steps limits how many,
// for tests that stop in the middle), without looking for late appends.
func (j *journal) apply(f *os.File, steps int) error {
	if steps < 1 {
		return nil
	}
	if err := j.write(f); err != nil {
		return err
	}
	if steps < 2 {
		return nil
	}
	if err := j.truncate(f); err != nil {
		return err
	}
	if steps < 3 {
		return nil
	}
	return j.remove()
}

// write copies the journal's content over the start of the spool f and
// syncs it (step 2).
func (j *journal) write(f *os.File) error {
	src, err := os.Open(j.path)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := io.Copy(io.NewOffsetWriter(f, 0), io.NewSectionReader(src, 0, j.newLen)); err != nil {
		return fmt.Errorf("rewriting the spool in place: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing the spool: %w", err)
	}
	return nil
}

// truncate cuts the spool f to the journal's new length and syncs it
// (step 3).
func (j *journal) truncate(f *os.File) error {
	if err := f.Truncate(j.newLen); err != nil {
		return fmt.Errorf("truncating the spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing the spool: %w", err)
	}
	return nil
}

// remove deletes the journal (step 4).
func (j *journal) remove() error {
	if err := os.Remove(j.path); err != nil {
		return fmt.Errorf("removing the journal: %w", err)
	}
	return syncDir(filepath.Dir(j.path))
}

// allSteps makes apply carry out the whole rewrite.
const allSteps = 3

// maxCatchUps bounds how many times one rewrite starts again because the
// spool grew while it was being rewritten. Past it, the rewrite stops
// with its journal in place; the next session finishes it.
const maxCatchUps = 16

// commitStage, when not nil, is called by rewriteInPlace at each stage of
// a commit: "temporary" (the new content is in the temporary file),
// "journal" (it is the journal), "written" (copied over the spool),
// "truncated" (the spool is cut, the journal not yet removed). Tests kill
// a commit there.
var commitStage func(stage string)

// duringRewrite, when not nil, is called by rewriteInPlace between writing
// the new content and checking whether the spool grew (tests append
// there, as a program that ignores the locks would).
var duringRewrite func()

// rewriteInPlace replaces the content of the spool f (of length oldLen)
// with the content of the temporary file tmp, in place, keeping what a
// program that ignores the locks appends meanwhile.
func rewriteInPlace(spool, tmp string, f *os.File, oldLen int64) error {
	for range maxCatchUps {
		st, err := f.Stat()
		if err != nil {
			_ = os.Remove(tmp)
			return err
		}
		if st.Size() > oldLen {
			// Appended since the spool was read: keep it after the
			// new content.
			if err := appendRange(tmp, f, oldLen, st.Size()); err != nil {
				_ = os.Remove(tmp)
				return err
			}
			oldLen = st.Size()
		}
		if commitStage != nil {
			commitStage("temporary")
		}
		j, err := commitJournal(spool, tmp, f, oldLen)
		if err != nil {
			_ = os.Remove(tmp)
			return err
		}
		if commitStage != nil {
			commitStage("journal")
		}
		pending := func(err error) error {
			return fmt.Errorf("%w (%w)", errCommitPending, err)
		}
		if err := j.write(f); err != nil {
			return pending(err)
		}
		if duringRewrite != nil {
			duringRewrite()
		}
		st, err = f.Stat()
		if err != nil {
			return pending(err)
		}
		if commitStage != nil {
			commitStage("written")
		}
		if st.Size() == oldLen {
			if err := j.truncate(f); err != nil {
				return pending(err)
			}
			if commitStage != nil {
				commitStage("truncated")
			}
			// The spool is rewritten. Were the journal left, the
			// next session would find the spool matching it and
			// remove it.
			_ = j.remove()
			return nil
		}
		// The spool grew during the rewrite: start again with a new
		// journal of the content and what was appended, which
		// replaces this one in one rename.
		tmp = tempPath(spool)
		if err := copyFile(tmp, j.path, j.newLen); err != nil {
			_ = os.Remove(tmp)
			return pending(err)
		}
	}
	return fmt.Errorf("%w: the spool kept growing during the commit (a program ignores the locks); the next session finishes it from %s", errCommitPending, journalPath(spool))
}

// errCommitPending means that a commit stopped with its journal in place:
// the deletions are not all done yet, and the next session finishes them.
var errCommitPending = errors.New("the deletions will be finished by the next session")

// appendRange appends the octets [from, to) of src to the file at path
// and syncs it.
func appendRange(path string, src io.ReaderAt, from, to int64) error {
	t, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	return errors.Join(copyRange(t, src, from, to), t.Sync(), t.Close())
}

// copyFile writes the first n octets of the file at from to a new file at
// to (replacing any), without syncing it.
func copyFile(to, from string, n int64) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	return errors.Join(copyRange(dst, src, 0, n), dst.Close())
}

// replayJournal finishes the in-place rewrite of a crashed commit, if the
// spool has a journal, and reports whether there was one. f is the locked
// spool. Mail appended after the crash is kept after the journal's
// content; shift is how far it moved towards the start of the spool.
func replayJournal(spool string, f *os.File) (replayed bool, shift int64, err error) {
	j, err := openJournal(spool)
	if err != nil || j == nil {
		return false, 0, err
	}
	damaged := fmt.Errorf("spool does not match its journal %s; the kept mail is in the journal, before its last line", j.path)
	if f == nil {
		return false, 0, damaged
	}
	src, err := os.Open(j.path)
	if err != nil {
		return false, 0, err
	}
	defer src.Close()
	st, err := f.Stat()
	if err != nil {
		return false, 0, err
	}
	size := st.Size()

	truncated := true
	if size >= j.oldLen {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, j.newLen, j.oldLen-j.newLen)); err != nil {
			return false, 0, err
		}
		truncated = !bytes.Equal(h.Sum(nil), j.tailSum[:])
	}
	if truncated {
		// Steps 2 and 3 are done: the spool is the new content, then
		// whatever was delivered since. Only the journal is left.
		same, err := equalRange(f, src, j.newLen)
		if err != nil {
			return false, 0, err
		}
		if !same || size < j.newLen {
			return false, 0, damaged
		}
		if err := os.Remove(j.path); err != nil {
			return false, 0, err
		}
		return true, 0, syncDir(filepath.Dir(spool))
	}
	if size == j.oldLen {
		return true, 0, j.apply(f, allSteps)
	}
	// Mail was appended after the crash, after the old length: the
	// spool must become the journal's content and then that mail. Write
	// that to a new journal, which replaces the old one in one rename.
	tmp, err := os.OpenFile(tempPath(spool), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return false, 0, err
	}
	err = errors.Join(copyRange(tmp, src, 0, j.newLen), copyRange(tmp, f, j.oldLen, size), tmp.Sync())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tempPath(spool))
		return false, 0, err
	}
	return true, j.oldLen - j.newLen, rewriteInPlace(spool, tempPath(spool), f, size)
}

// equalRange reports whether the first n octets of a and b are equal.
func equalRange(a, b io.ReaderAt, n int64) (bool, error) {
	const chunk = 64 * 1024
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); off < n; off += chunk {
		k := min(chunk, n-off)
		if _, err := a.ReadAt(ba[:k], off); err != nil {
			return false, err
		}
		if _, err := b.ReadAt(bb[:k], off); err != nil {
			return false, err
		}
		if !bytes.Equal(ba[:k], bb[:k]) {
			return false, nil
		}
	}
	return true, nil
}
