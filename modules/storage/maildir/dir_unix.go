//go:build unix

package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// dir is an open directory of a maildir. Every file of a maildir is
// opened, created, linked and removed relative to the descriptor of its
// directory, by a single name component and without following a symbolic
// link: a directory swapped for a link after it was opened changes
// nothing, and a link in a message's place is never followed.
type dir struct {
	fd   int
	path string // for messages and logs only; never opened again
}

// dirFlags open a directory without following a symbolic link.
const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// messageFlags open a message: read-only, not through a symbolic link,
// and without blocking (a FIFO or a device in a message's place would
// otherwise make open(2) wait forever).
const messageFlags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC

// retryEINTR calls f again while it fails with EINTR.
func retryEINTR[T any](f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if !errors.Is(err, unix.EINTR) {
			return v, err
		}
	}
}

// openTree opens the directory prefix/rel. Symbolic links are followed in
// prefix, the administrator's part of the path, and refused in every
// component of rel, the part that comes from the user name and the
// maildir layout. With create, what is missing of rel is created (mode
// 0700), relative to the directories already open.
func openTree(prefix, rel string, create bool) (*dir, error) {
	if fd, err := openBeneath(prefix, rel); err == nil {
		return &dir{fd: fd, path: filepath.Join(prefix, rel)}, nil
	} else if !errors.Is(err, errNoOpenat2) && !(create && errors.Is(err, fs.ErrNotExist)) {
		return nil, err
	}
	openPrefix := func() (int, error) {
		return unix.Open(prefix, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	fd, err := retryEINTR(openPrefix)
	if errors.Is(err, unix.ENOENT) && create {
		if err := os.MkdirAll(prefix, 0o700); err != nil {
			return nil, err
		}
		fd, err = retryEINTR(openPrefix)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: prefix, Err: err}
	}
	d := &dir{fd: fd, path: prefix}
	for name := range strings.SplitSeq(filepath.ToSlash(rel), "/") {
		if name == "" || name == "." {
			continue
		}
		next, err := d.sub(name, create)
		d.close()
		if err != nil {
			return nil, err
		}
		d = next
	}
	return d, nil
}

// sub opens the subdirectory name of d, refusing a symbolic link; with
// create, it makes it first when it is missing.
func (d *dir) sub(name string, create bool) (*dir, error) {
	path := filepath.Join(d.path, name)
	for made := false; ; made = true {
		fd, err := retryEINTR(func() (int, error) { return unix.Openat(d.fd, name, dirFlags, 0) })
		if err == nil {
			return &dir{fd: fd, path: path}, nil
		}
		if errors.Is(err, unix.ENOENT) && create && !made {
			if err := unix.Mkdirat(d.fd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
				return nil, &fs.PathError{Op: "mkdir", Path: path, Err: err}
			}
			continue
		}
		return nil, dirError(path, err)
	}
}

// dirError describes the failure to open the directory at path.
func dirError(path string, err error) error {
	if isLinkError(err) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("maildir: %s is a symbolic link or not a directory, refusing it: %w", path, errNotDirectory)
	}
	return &fs.PathError{Op: "open", Path: path, Err: err}
}

// isLinkError reports whether err is what open(2) with O_NOFOLLOW answers
// for a symbolic link: ELOOP, and EMLINK on FreeBSD and DragonFly, EFTYPE
// on NetBSD.
func isLinkError(err error) bool {
	return errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) || isEFTYPE(err)
}

// close releases the descriptor; d is not used afterwards.
func (d *dir) close() {
	if d != nil && d.fd >= 0 {
		_ = unix.Close(d.fd)
		d.fd = -1
	}
}

// names returns the names in d of the message files: regular files whose
// name does not start with a dot. Subdirectories (Maildir++ folders),
// symbolic links, sockets and such are not messages.
func (d *dir) names() ([]string, error) {
	entries, err := d.entries(-1)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		names = append(names, e.Name())
	}
	return names, nil
}

// entries reads up to n entries of d (all of them when n <= 0).
func (d *dir) entries(n int) ([]fs.DirEntry, error) {
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(d.fd, ".", dirFlags, 0) })
	if err != nil {
		return nil, fmt.Errorf("reading maildir: %w", &fs.PathError{Op: "open", Path: d.path, Err: err})
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	entries, err := f.ReadDir(n)
	if err != nil && !(n > 0 && errors.Is(err, io.EOF)) {
		return nil, fmt.Errorf("reading maildir: %w", err)
	}
	return entries, nil
}

// openMessage opens the message file name of d for reading. A symbolic
// link, a FIFO, a directory or anything else that is not a regular file
// is refused with an error wrapping storage.ErrGone, without blocking and
// without reading it; a missing file is fs.ErrNotExist.
func (d *dir) openMessage(name string) (*messageFile, error) {
	path := filepath.Join(d.path, name)
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(d.fd, name, messageFlags, 0) })
	if err != nil {
		if isLinkError(err) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, notMessage(path, "a symbolic link or a socket")
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if _, err := retryEINTR(func() (struct{}, error) { return struct{}{}, unix.Fstat(fd, &st) }); err != nil {
		_ = unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		_ = unix.Close(fd)
		return nil, notMessage(path, kindOf(uint32(st.Mode)))
	}
	adviseSequential(fd, st.Size)
	return &messageFile{fd: fd, path: path, left: st.Size, size: st.Size}, nil
}

// kindOf names the file type in a stat mode.
func kindOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	}
	return "not a regular file"
}

// lstat returns what name in d is, without following a symbolic link.
func (d *dir) lstat(name string) (fileStat, error) {
	var st unix.Stat_t
	_, err := retryEINTR(func() (struct{}, error) {
		return struct{}{}, unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		return fileStat{}, &fs.PathError{Op: "lstat", Path: filepath.Join(d.path, name), Err: err}
	}
	return fileStat{
		dev:     uint64(st.Dev), //nolint:unconvert // not uint64 everywhere
		ino:     uint64(st.Ino), //nolint:unconvert // not uint64 everywhere
		regular: st.Mode&unix.S_IFMT == unix.S_IFREG,
		isDir:   st.Mode&unix.S_IFMT == unix.S_IFDIR,
		kind:    kindOf(uint32(st.Mode)),
		mtime:   time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)), //nolint:unconvert // not int64 everywhere
		size:    st.Size,
	}, nil
}

// sameFile reports whether a in d and b in e are two names of one file.
func sameFile(d *dir, a string, e *dir, b string) bool {
	sa, err := d.lstat(a)
	if err != nil {
		return false
	}
	sb, err := e.lstat(b)
	return err == nil && sa.dev == sb.dev && sa.ino == sb.ino
}

// unlink removes the name name from d. A directory is never removed.
func (d *dir) unlink(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &fs.PathError{Op: "remove", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}

// create makes the new file name in d for writing; it fails if the name
// exists, whatever it is.
func (d *dir) create(name string) (*os.File, error) {
	path := filepath.Join(d.path, name)
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// link gives the file old of d the additional name new in e, never
// replacing anything (fs.ErrExist then). It reports errLinkUnsupported
// when the file system has no hard links.
func link(d *dir, old string, e *dir, new string) error {
	err := unix.Linkat(d.fd, old, e.fd, new, 0)
	if err == nil {
		return nil
	}
	lerr := &os.LinkError{Op: "link", Old: filepath.Join(d.path, old), New: filepath.Join(e.path, new), Err: err}
	if errors.Is(err, unix.EEXIST) || !linkUnsupported(err) {
		return lerr
	}
	return fmt.Errorf("%w: %w", errLinkUnsupported, lerr)
}

// rename gives the file old of d the name new in e, replacing what has
// that name.
func rename(d *dir, old string, e *dir, new string) error {
	if err := unix.Renameat(d.fd, old, e.fd, new); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, old), New: filepath.Join(e.path, new), Err: err}
	}
	return nil
}

// sync flushes d's entries to disk, so that a file just linked into it
// survives a power loss.
func (d *dir) sync() error {
	_, err := retryEINTR(func() (struct{}, error) { return struct{}{}, unix.Fsync(d.fd) })
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) {
		return nil // some file systems cannot sync a directory
	}
	return &fs.PathError{Op: "sync", Path: d.path, Err: err}
}

// appendTo appends data to the existing regular file name of d in one
// write, when it is still the file want describes (device, inode and
// size); it returns what the file is afterwards.
func (d *dir) appendTo(name string, want indexState, data []byte) (indexState, error) {
	path := filepath.Join(d.path, name)
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return indexState{}, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return indexState{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	got := indexState{dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size, journal: want.journal} //nolint:unconvert // not uint64 everywhere
	if st.Mode&unix.S_IFMT != unix.S_IFREG || got != want {
		return indexState{}, errIndexMoved
	}
	n, err := unix.Write(fd, data)
	if err != nil {
		return indexState{}, &fs.PathError{Op: "write", Path: path, Err: err}
	}
	if n != len(data) {
		return indexState{}, &fs.PathError{Op: "write", Path: path, Err: io.ErrShortWrite}
	}
	got.size += int64(n)
	got.journal += int64(n)
	return got, nil
}

// dirsHoldDescriptors says that an open dir holds a file descriptor here,
// so a session lets its directories go while it is idle (see park.go).
const dirsHoldDescriptors = true

// dirID is the identity of a directory: its device and inode.
type dirID struct{ dev, ino uint64 }

// id returns the identity of d.
func (d *dir) id() (dirID, error) {
	var st unix.Stat_t
	if _, err := retryEINTR(func() (struct{}, error) { return struct{}{}, unix.Fstat(d.fd, &st) }); err != nil {
		return dirID{}, &fs.PathError{Op: "stat", Path: d.path, Err: err}
	}
	return dirID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil //nolint:unconvert // not uint64 everywhere
}
