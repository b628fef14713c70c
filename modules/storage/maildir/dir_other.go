//go:build !unix

package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// dir is a directory of a maildir, by path: the portable fallback of
// dir_unix.go for systems without openat(2). Every use checks, with
// Lstat, that what it works on is not a symbolic link (or, on Windows, a
// junction or another reparse point) and that an opened file is the one
// that was checked.
type dir struct {
	path string
}

// openTree opens the directory prefix/rel, refusing symbolic links in
// every component of rel; with create, it creates what is missing.
func openTree(prefix, rel string, create bool) (*dir, error) {
	fi, err := os.Stat(prefix)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := os.MkdirAll(prefix, 0o700); err != nil {
			return nil, err
		}
		fi, err = os.Stat(prefix)
	}
	if err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, dirError(prefix)
	}
	d := &dir{path: prefix}
	for name := range strings.SplitSeq(filepath.ToSlash(rel), "/") {
		if name == "" || name == "." {
			continue
		}
		next, err := d.sub(name, create)
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
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		fi, err = os.Lstat(path)
	}
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() || fi.Mode()&fs.ModeType != fs.ModeDir {
		return nil, dirError(path)
	}
	return &dir{path: path}, nil
}

// dirError describes a directory that is refused.
func dirError(path string) error {
	return fmt.Errorf("maildir: %s is a symbolic link or not a directory, refusing it: %w", path, errNotDirectory)
}

// close does nothing: a dir holds no descriptor here.
func (d *dir) close() {}

// names returns the names in d of the message files (see dir_unix.go).
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
	f, err := os.Open(d.path)
	if err != nil {
		return nil, fmt.Errorf("reading maildir: %w", err)
	}
	defer f.Close()
	entries, err := f.ReadDir(n)
	if err != nil && !(n > 0 && errors.Is(err, io.EOF)) {
		return nil, fmt.Errorf("reading maildir: %w", err)
	}
	return entries, nil
}

// openMessage opens the message file name of d for reading; anything
// that is not a regular file is refused with an error wrapping
// storage.ErrGone (see dir_unix.go).
func (d *dir) openMessage(name string) (*messageFile, error) {
	path := filepath.Join(d.path, name)
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, notMessage(path, kindOf(before.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil || !after.Mode().IsRegular() || !os.SameFile(before, after) {
		f.Close()
		return nil, notMessage(path, "replaced while it was opened")
	}
	return &messageFile{f}, nil
}

// kindOf names the type of a file mode.
func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// lstat returns what name in d is, without following a symbolic link.
func (d *dir) lstat(name string) (fileStat, error) {
	fi, err := os.Lstat(filepath.Join(d.path, name))
	if err != nil {
		return fileStat{}, err
	}
	return fileStat{regular: fi.Mode().IsRegular(), isDir: fi.IsDir(), kind: kindOf(fi.Mode()), mtime: fi.ModTime(), size: fi.Size(), info: fi}, nil
}

// sameFile reports whether a in d and b in e are two names of one file.
func sameFile(d *dir, a string, e *dir, b string) bool {
	sa, err := d.lstat(a)
	if err != nil {
		return false
	}
	sb, err := e.lstat(b)
	return err == nil && os.SameFile(sa.info, sb.info)
}

// unlink removes the name name from d. A directory is never removed.
func (d *dir) unlink(name string) error {
	st, err := d.lstat(name)
	if err != nil {
		return err
	}
	if st.isDir {
		return &fs.PathError{Op: "remove", Path: filepath.Join(d.path, name), Err: syscall.EISDIR}
	}
	return os.Remove(filepath.Join(d.path, name))
}

// create makes the new file name in d for writing; it fails if the name
// exists.
func (d *dir) create(name string) (*os.File, error) {
	return os.OpenFile(filepath.Join(d.path, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// link gives the file old of d the additional name new in e, never
// replacing anything.
func link(d *dir, old string, e *dir, new string) error {
	err := os.Link(filepath.Join(d.path, old), filepath.Join(e.path, new))
	if err == nil || errors.Is(err, fs.ErrExist) || !linkUnsupported(err) {
		return err
	}
	return fmt.Errorf("%w: %w", errLinkUnsupported, err)
}

// rename gives the file old of d the name new in e.
func rename(d *dir, old string, e *dir, new string) error {
	return os.Rename(filepath.Join(d.path, old), filepath.Join(e.path, new))
}

// sync flushes d's entries to disk where the system can.
func (d *dir) sync() error {
	f, err := os.Open(d.path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil && (errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, fs.ErrPermission)) {
		return nil // directories cannot be synced everywhere (Windows)
	}
	return err
}

// appendTo is not done here: the index is rewritten whole instead (and
// with no directory stamps, as on Windows, never written).
func (d *dir) appendTo(string, indexState, []byte) (indexState, error) {
	return indexState{}, errors.ErrUnsupported
}

// dirsHoldDescriptors says that a dir holds no descriptor here: there is
// nothing for an idle session to let go (see park.go).
const dirsHoldDescriptors = false

// dirID stands for the identity of a directory, which park.go needs only
// where dirs hold descriptors.
type dirID struct{}

// id returns the zero dirID: every dir is checked by path at each use.
func (d *dir) id() (dirID, error) { return dirID{}, nil }
