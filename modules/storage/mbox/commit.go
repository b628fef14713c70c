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

// rewrite removes the messages at the indexes in del from the spool:
//
//  1. It reads the spool as it is now. Mail appended since login (by this
//     process's deliveries, under the session's lock) is there after the
//     snapshot's messages. When the snapshot's messages are no longer
//     where they were (a program that ignores the locks changed the
//     spool), the messages to delete are found by UIDL instead.
//  2. It writes every other message, and anything before the first
//     message, byte for byte to a temporary file in the spool's
//     directory, syncs it, gives it the spool's mode, owner and group, and
//     renames it over the spool; then it syncs the directory. When the
//     owner cannot be given (this process is not root and does not own
//     the spool), it rewrites the spool in place instead, behind a redo
//     journal (see inplace.go).
//  3. It copies to the new spool whatever a program that ignores the
//     locks appended to the old one while it was being copied.
//
// A crash before the rename leaves the old spool intact (the next session
// removes the temporary file); after it, the new one is complete.
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
	lay, err := scanLayout(io.NewSectionReader(src, 0, st.Size()))
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	drop, err := md.toDrop(src, &lay, del)
	if err != nil || len(drop) == 0 {
		return err
	}
	tmp, ownerErr, err := writeSpool(md.path, src, lay, drop, st)
	if err != nil {
		return err
	}
	if ownerErr != nil {
		md.store.log().Debug("rewriting the spool in place", zap.String("spool", md.path), zap.NamedError("reason", ownerErr))
		return md.rewriteInPlace(tmp, src, lay.size)
	}
	if err := os.Rename(tmp, md.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("renaming the new spool into place: %w", err)
	}
	if err := syncDir(filepath.Dir(md.path)); err != nil {
		md.store.log().Warn("syncing the spool directory", zap.String("spool", md.path), zap.Error(err))
	}
	md.catchUp(src, lay.size)
	return nil
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
	f, err := openSpool(md.path, false)
	if err != nil || f == nil {
		return nil, nil, err
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
	if err := describe(src, lay); err != nil {
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

// writeSpool writes the new spool, lay without the messages in drop, to
// the temporary file of spool, syncs it and gives it the mode, owner and
// group of st (the spool now). It returns the temporary file's path. When
// the owner or group cannot be given, it returns that as ownerErr and
// keeps the (complete) temporary file, for an in-place rewrite.
func writeSpool(spool string, src *os.File, lay layout, drop map[int]bool, st fs.FileInfo) (path string, ownerErr, err error) {
	path = tempPath(spool)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("removing an old temporary file: %w", err)
	}
	tmp, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("creating the new spool: %w", err)
	}
	defer func() {
		if cerr := tmp.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing the new spool: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	w := bufio.NewWriterSize(tmp, 256*1024)
	if err := copyRange(w, src, 0, lay.preamble); err != nil {
		return "", nil, err
	}
	for j, m := range lay.msgs {
		if !drop[j] {
			if err := copyRange(w, src, m.start, m.end); err != nil {
				return "", nil, err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return "", nil, fmt.Errorf("writing the new spool: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", nil, fmt.Errorf("syncing the new spool: %w", err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return "", nil, fmt.Errorf("setting the new spool's mode: %w", err)
	}
	return path, ownNewSpool(tmp, st), nil
}

// copyRange copies the bytes [from, to) of src to w.
func copyRange(w io.Writer, src io.ReaderAt, from, to int64) error {
	if _, err := io.Copy(w, io.NewSectionReader(src, from, to-from)); err != nil {
		return fmt.Errorf("copying to the new spool: %w", err)
	}
	return nil
}

// ownNewSpool gives the new spool the old one's owner and group: giveOwner,
// or in tests (which run as root) a function that refuses.
var ownNewSpool = giveOwner

// giveOwner gives f the owner and group of st. That needs privileges
// (root, or CAP_CHOWN) unless this process owns the spool already.
func giveOwner(f *os.File, st fs.FileInfo) error {
	want, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	nst, err := f.Stat()
	if err != nil {
		return err
	}
	have, ok := nst.Sys().(*syscall.Stat_t)
	if ok && have.Uid == want.Uid && have.Gid == want.Gid {
		return nil
	}
	if err := f.Chown(int(want.Uid), int(want.Gid)); err != nil {
		return fmt.Errorf("cannot give the new spool the owner %d and group %d of the old one: %w", want.Uid, want.Gid, err)
	}
	return nil
}

// rewriteInPlace replaces the content of the spool src with the complete
// temporary file tmp, in place (see inplace.go), after adding to tmp what
// a program that ignores the locks appended since the spool was read.
func (md *maildrop) rewriteInPlace(tmp string, src *os.File, read int64) error {
	st, err := src.Stat()
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if st.Size() > read {
		t, err := os.OpenFile(tmp, os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0)
		if err == nil {
			err = errors.Join(copyRange(t, src, read, st.Size()), t.Sync(), t.Close())
		}
		if err != nil {
			_ = os.Remove(tmp)
			return err
		}
	}
	return rewriteInPlace(md.path, tmp, src, st.Size())
}

// catchUp appends to the new spool what was appended to the old one
// (src) after it was read, up to its size, when the rename replaced a
// file that a program ignoring the locks was still writing to. With every
// writer honouring the locks there is nothing to copy.
func (md *maildrop) catchUp(src *os.File, read int64) {
	st, err := src.Stat()
	if err != nil || st.Size() <= read {
		return
	}
	log := md.store.log().With(zap.String("spool", md.path))
	log.Warn("mail was appended to the spool during the commit by a program that ignores the locks; copying it to the new spool",
		zap.Int64("octets", st.Size()-read))
	dst, err := os.OpenFile(md.path, os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0)
	if err != nil {
		log.Error("cannot copy late mail to the new spool", zap.Error(err))
		return
	}
	defer dst.Close()
	if err := copyRange(dst, src, read, st.Size()); err != nil {
		log.Error("cannot copy late mail to the new spool", zap.Error(err))
		return
	}
	if err := dst.Sync(); err != nil {
		log.Error("syncing late mail in the new spool", zap.Error(err))
	}
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
