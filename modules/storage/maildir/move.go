package maildir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// moveNoReplace gives the file old of d the name new in e, and never
// replaces a file that already has that name: then it returns an error
// that satisfies errors.Is(err, fs.ErrExist). It links the new name and
// unlinks the old one, as the maildir protocol does; on a file system
// without hard links it checks that new is free and renames. A crash (or
// a failed unlink) between link and unlink leaves two names for the same
// file, which the next scan notices (see maildrop.settle) and cleans up.
//
// Where the system has a rename that never replaces (Linux's renameat2
// with RENAME_NOREPLACE), it is used instead: one system call, and no
// second name even for a moment.
func moveNoReplace(d *dir, old string, e *dir, new string) error {
	if err := renameNoReplace(d, old, e, new); !errors.Is(err, errNoRenameNoReplace) {
		return err
	}
	err := link(d, old, e, new)
	if err == nil {
		// The file has its new name. Should the old one stay (a failed
		// unlink), it is a second name of the same file, which a later
		// scan removes; it is never a second message.
		_ = d.unlink(old)
		return nil
	}
	if !errors.Is(err, errLinkUnsupported) {
		return err
	}
	if _, err := e.lstat(new); err == nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, old), New: filepath.Join(e.path, new), Err: fs.ErrExist}
	}
	return rename(d, old, e, new)
}

// linkUnsupported reports whether err from link(2) means that the file
// system does not do hard links (rather than a real failure).
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.EMLINK) || errors.Is(err, errors.ErrUnsupported)
}
