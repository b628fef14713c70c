package maildir

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// moveNoReplace gives the file oldpath the name newpath, and never
// replaces a file that already has that name: then it returns an error
// that satisfies errors.Is(err, fs.ErrExist). It links the new name and
// unlinks the old one, as the maildir protocol does; on a file system
// without hard links it checks that newpath is free and renames. A crash
// (or a failed unlink) between link and unlink leaves two names for the
// same file, which the next scan notices (see maildrop.settle) and cleans
// up.
func moveNoReplace(oldpath, newpath string) error {
	err := os.Link(oldpath, newpath)
	if err == nil {
		// The file has its new name. Should the old one stay (a failed
		// unlink), it is a second name of the same file, which a later
		// scan removes; it is never a second message.
		_ = os.Remove(oldpath)
		return nil
	}
	if errors.Is(err, fs.ErrExist) || !linkUnsupported(err) {
		return err
	}
	if _, err := os.Lstat(newpath); err == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrExist}
	}
	return os.Rename(oldpath, newpath)
}

// linkUnsupported reports whether err from os.Link means that the file
// system does not do hard links (rather than a real failure).
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.EMLINK) || errors.Is(err, errors.ErrUnsupported)
}

// sameFile reports whether the paths a and b name the same file.
func sameFile(a, b string) bool {
	fa, err := os.Lstat(a)
	if err != nil {
		return false
	}
	fb, err := os.Lstat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}
