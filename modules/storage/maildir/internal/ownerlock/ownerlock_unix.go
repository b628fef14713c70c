// Unix gives owner locks flock(2), pread/pwrite and O_NOFOLLOW on bare descriptors.

//go:build unix

package ownerlock

import (
	"errors"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lockFD is an open lock file: a descriptor.
type lockFD = int

// openLockFile opens the lock file at path for reading and writing,
// creating it (mode 0600) when create is set, never following a symbolic
// link. It asks the system directly: os.OpenFile would also offer the
// descriptor to the network poller.
func openLockFile(path string, create bool) (lockFD, error) {
	flags := syscall.O_RDWR | syscall.O_NOFOLLOW | syscall.O_CLOEXEC | syscall.O_NONBLOCK
	if create {
		flags |= syscall.O_CREAT
	}
	for {
		fd, err := syscall.Open(path, flags, 0o600)
		if !errors.Is(err, syscall.EINTR) {
			return fd, err
		}
	}
}

// closeFD closes fd, which also drops its flock.
func closeFD(fd lockFD) {
	_ = syscall.Close(fd)
}

// flockNB takes an exclusive flock on fd without waiting; it fails with
// EWOULDBLOCK when another descriptor holds one.
func flockNB(fd lockFD) error {
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// preadFull reads the file fd from its start into buf, until buf is full
// or the file ends, and returns how much it read.
func preadFull(fd lockFD, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := syscall.Pread(fd, buf[n:], int64(n))
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		if m <= 0 {
			break
		}
		n += m
	}
	return n, nil
}

// writeRecord writes rec at the start of the file fd, which held old
// bytes (or more), and cuts off what is left of them after rec. The mtime
// is now.
func writeRecord(fd lockFD, rec []byte, old int) error {
	for n := 0; n < len(rec); {
		m, err := syscall.Pwrite(fd, rec[n:], int64(n))
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if m <= 0 {
			return syscall.EIO
		}
		n += m
	}
	if old <= len(rec) {
		return nil
	}
	for {
		err := syscall.Ftruncate(fd, int64(len(rec)))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// modTime returns the modification time of the file fd.
func modTime(fd lockFD) (time.Time, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return time.Time{}, err
	}
	return time.Unix(st.Mtim.Unix()), nil
}

// touchFD sets the access and modification times of the file fd to now.
func touchFD(fd lockFD) error {
	now := unix.NsecToTimeval(time.Now().UnixNano())
	return unix.Futimes(fd, []unix.Timeval{now, now})
}
