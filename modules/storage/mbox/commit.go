// Unix gives mbox commits O_NOFOLLOW, owner- and mode-preserving renames and an in-place rewrite.

//go:build unix

package mbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"go.uber.org/zap"
)

// tempPath returns the name of the file a commit writes the new spool to:
// a hidden file next to the spool (user names never start with a dot, so
// it is nobody's spool).
func tempPath(spool string) string {
	return filepath.Join(filepath.Dir(spool), "."+filepath.Base(spool)+".caddy-pop3.tmp")
}

// rewrite removes the messages at the indexes in del from the spool, in
// place, under the session's locks (the dotlock, flock and fcntl):
//
//  1. It reads the spool as it is now. Mail appended since login (by this
//     process's deliveries, under the session's lock) is there after the
//     snapshot's messages. When the snapshot's messages are no longer
//     where they were (a program that ignores the locks changed the
//     spool), the messages to delete are found by UIDL instead.
//  2. It writes every other message, and anything before the first
//     message, byte for byte to a temporary file in the spool's
//     directory, and syncs it.
//  3. It turns that file into a redo journal and copies it over the start
//     of the spool, then cuts the spool to its new length (see
//     inplace.go). A crash at any point loses nothing: the next session
//     finishes the rewrite from the journal, or finds the spool as it
//     was.
//
// The spool stays the same file, with its mode, owner and group. So an
// MTA that opened it before or during the session and waits for any one
// of the locks appends to the spool itself once the locks are released,
// never to a file that is no longer the spool; and a program that ignores
// the locks but appends with O_APPEND has what it wrote during the commit
// copied into the journal before the spool is cut.
func (md *maildrop) rewrite(del map[int]bool) error {
	if len(del) == 0 {
		return nil
	}
	src, closeSrc, err := md.currentSpool()
	if err != nil || src == nil {
		return err
	}
	defer closeSrc()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	lay, err := scanLayout(io.NewSectionReader(src, 0, st.Size()), md.key)
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	drop, err := md.toDrop(src, &lay, del)
	if err != nil || len(drop) == 0 {
		return err
	}
	if err := md.forget(del); err != nil {
		return fmt.Errorf("updating the UIDL list: %w", err)
	}
	tmp, err := writeSpool(md.path, src, lay, drop)
	if err != nil {
		return err
	}
	return rewriteInPlace(md.path, tmp, src, lay.size)
}

// currentSpool returns the spool file as it is now: the session's
// descriptor when the spool is still that file, else a new descriptor
// (closed by the returned function). It returns nil when there is no spool
// any more.
func (md *maildrop) currentSpool() (*os.File, func(), error) {
	st, err := os.Lstat(md.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if md.lock.f != nil && sameFile(st, md.lock.f) {
		return md.lock.f, func() {}, nil
	}
	// Another program replaced the spool during the session (it
	// ignored the locks): the session's kernel locks are on the old
	// file. Lock the new one before rewriting it.
	f, err := openSpool(md.path, false)
	if err != nil || f == nil {
		return nil, nil, err
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("the spool was replaced during the session and the new one is locked: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}

// toDrop returns the indexes in lay (the spool now) of the messages to
// delete: those of del when the snapshot's messages are still the first
// ones of the spool, else those whose UIDL is the UIDL of a message in
// del.
func (md *maildrop) toDrop(src *os.File, lay *layout, del map[int]bool) (map[int]bool, error) {
	if src == md.lock.f && samePrefix(md.lay.msgs, lay.msgs) {
		return del, nil
	}
	md.store.log().Warn("the spool changed during the session although it was locked (a program ignored the locks): deleting by UIDL",
		zap.String("spool", md.path))
	if _, err := describe(src, lay, md.saved, md.store.uidlFormat()); err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	uids := make(map[string]bool, len(del))
	for i := range del {
		uids[md.msgs[i].UID] = true
	}
	drop := make(map[int]bool, len(del))
	for j, m := range lay.msgs {
		if uids[m.uid] {
			drop[j] = true
			delete(uids, m.uid)
		}
	}
	return drop, nil
}

// forget removes from the spool's UIDL list the UIDLs of the messages of
// the snapshot at the indexes in del, before they are deleted: the
// messages left with the same content keep theirs. (Were the commit to
// fail after this, a message left could be shown with the UIDL of an
// identical one, never with that of another content.)
func (md *maildrop) forget(del map[int]bool) error {
	gone := make(map[uidEntry]int)
	for i := range del {
		m := &md.lay.msgs[i]
		gone[uidEntry{key: m.key, uid: m.uid}]++
	}
	var left []uidEntry
	for _, e := range md.saved {
		if gone[e] > 0 {
			gone[e]--
			continue
		}
		left = append(left, e)
	}
	if len(left) == len(md.saved) {
		return nil
	}
	md.saved = left
	return writeUIDList(md.path, left)
}

// samePrefix reports whether the messages of now begin with those of the
// snapshot, at the same places.
func samePrefix(snapshot, now []message) bool {
	if len(now) < len(snapshot) {
		return false
	}
	for i, m := range snapshot {
		n := now[i]
		if m.start != n.start || m.content != n.content || m.contentEnd != n.contentEnd {
			return false
		}
	}
	return true
}

// writeSpool writes the new content of the spool, lay without the
// messages in drop, to the temporary file of spool, syncs it, and returns
// its path. On any failure (a full disk) it removes the temporary file.
func writeSpool(spool string, src *os.File, lay layout, drop map[int]bool) (string, error) {
	path := tempPath(spool)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("removing an old temporary file: %w", err)
	}
	tmp, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating the new spool: %w", err)
	}
	err = writeContent(tmp, src, lay, drop)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing the new spool: %w", cerr)
	}
	if err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}

// writeContent writes lay without the messages in drop, read from src, to
// tmp and syncs it.
func writeContent(tmp *os.File, src *os.File, lay layout, drop map[int]bool) error {
	w := bufio.NewWriterSize(tmp, 256*1024)
	if err := copyRange(w, src, 0, lay.preamble); err != nil {
		return err
	}
	for j, m := range lay.msgs {
		if !drop[j] {
			if err := copyRange(w, src, m.start, m.end); err != nil {
				return err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the new spool: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing the new spool: %w", err)
	}
	return nil
}

// copyRange copies the bytes [from, to) of src to w.
func copyRange(w io.Writer, src io.ReaderAt, from, to int64) error {
	if _, err := io.Copy(w, io.NewSectionReader(src, from, to-from)); err != nil {
		return fmt.Errorf("copying to the new spool: %w", err)
	}
	return nil
}

// syncDir flushes a directory's entries to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
