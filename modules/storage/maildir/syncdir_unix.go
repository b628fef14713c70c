// Unix gives maildir deliveries fsync(2) of a directory, so a new name survives a power loss.

//go:build unix

package maildir

import (
	"errors"
	"os"
	"syscall"
)

// syncDir flushes a directory's entries to disk, so that a file just
// linked into it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil // some file systems cannot sync a directory
	}
	return err
}
