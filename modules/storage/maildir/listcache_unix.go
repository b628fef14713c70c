// Unix gives the listing cache a directory's device, inode, size and nanosecond mtime and ctime.

//go:build unix

package maildir

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// stampDir returns the stamp of the directory at path. golang.org/x/sys
// names the times Mtim and Ctim on every Unix (the syscall package does
// not: Mtimespec on macOS and the BSDs).
func stampDir(path string) (dirStamp, error) {
	var st unix.Stat_t
	for {
		err := unix.Stat(path, &st)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return dirStamp{}, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
		break
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFDIR {
		return dirStamp{}, fmt.Errorf("maildir: %s is not a directory", path)
	}
	return stampOf(&st), nil
}

// stampFile returns the stamp of the file at path, not following a
// symbolic link; a missing file has the zero stamp.
func stampFile(path string) (dirStamp, error) {
	var st unix.Stat_t
	for {
		err := unix.Lstat(path, &st)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ENOENT) {
			return dirStamp{}, nil
		}
		if err != nil {
			return dirStamp{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
		}
		break
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		return dirStamp{}, fmt.Errorf("maildir: %s is not a regular file", path)
	}
	return stampOf(&st), nil
}

// stampOf is the stamp that st describes.
func stampOf(st *unix.Stat_t) dirStamp {
	return dirStamp{
		dev:   uint64(st.Dev), //nolint:unconvert // Dev is not uint64 everywhere
		ino:   st.Ino,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
		size:  st.Size,
	}
}
