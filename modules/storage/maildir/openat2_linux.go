package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noOpenat2 is set once openat2(2) turned out to be missing (Linux before
// 5.6) or forbidden (a seccomp filter): openTree then walks the path one
// component at a time.
var noOpenat2 atomic.Bool

// openBeneath opens the directory prefix/rel with one openat2(2) that
// refuses any symbolic link in rel (RESOLVE_NO_SYMLINKS) and any escape
// from prefix (RESOLVE_BENEATH). It returns errNoOpenat2 when the kernel
// cannot do that.
func openBeneath(prefix, rel string) (int, error) {
	if rel == "" || noOpenat2.Load() {
		return -1, errNoOpenat2
	}
	pfd, err := retryEINTR(func() (int, error) {
		return unix.Open(prefix, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: prefix, Err: err}
	}
	defer unix.Close(pfd)
	how := &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	}
	fd, err := retryEINTR(func() (int, error) { return unix.Openat2(pfd, rel, how) })
	path := filepath.Join(prefix, rel)
	switch {
	case err == nil:
		return fd, nil
	case errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.E2BIG) || errors.Is(err, unix.EINVAL):
		noOpenat2.Store(true)
		return -1, errNoOpenat2
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOTDIR):
		return -1, fmt.Errorf("maildir: %s has a symbolic link or a non-directory in it, refusing it: %w", path, errNotDirectory)
	}
	return -1, &fs.PathError{Op: "open", Path: path, Err: err}
}
