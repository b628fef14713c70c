// Linux moves a message with one renameat2(2) call that never replaces a file.

package maildir

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// renameNoReplace gives the file old of d the name new in e with
// renameat2(RENAME_NOREPLACE): one system call instead of link and
// unlink, and never two names for the file. It fails with an error that
// satisfies errors.Is(err, fs.ErrExist) when new exists, and returns
// errNoRenameNoReplace when the kernel or the file system cannot do it.
func renameNoReplace(d *dir, old string, e *dir, new string) error {
	err := unix.Renameat2(d.fd, old, e.fd, new, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
		return errNoRenameNoReplace
	}
	return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, old), New: filepath.Join(e.path, new), Err: err}
}
