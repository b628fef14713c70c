// Windows gives owner locks LockFileEx on handles and positioned ReadFile/WriteFile.

package ownerlock

import (
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

// lockFD is an open lock file: a handle.
type lockFD = windows.Handle

// allBytes is the length of the range LockFileEx locks: the whole file,
// as Go's own file locks do. Only the transient lock holder reads or
// writes the record, through the handle that holds the lock.
const allBytes = ^uint32(0)

// openLockFile opens the lock file at path for reading and writing,
// creating it when create is set, never following a symbolic link or
// another reparse point (it refuses them with ELOOP). Other handles may
// open, and delete, the file meanwhile, as on Unix.
func openLockFile(path string, create bool) (lockFD, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, err
	}
	disposition := uint32(windows.OPEN_EXISTING)
	if create {
		disposition = windows.OPEN_ALWAYS
	}
	h, err := windows.CreateFile(name,
		windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, disposition,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return windows.InvalidHandle, err
	}
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		_ = windows.CloseHandle(h)
		return windows.InvalidHandle, err
	}
	switch {
	case info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0:
		_ = windows.CloseHandle(h)
		return windows.InvalidHandle, syscall.ELOOP
	case info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0:
		_ = windows.CloseHandle(h)
		return windows.InvalidHandle, syscall.EISDIR
	}
	return h, nil
}

// closeFD drops the lock of fd, if it holds one, and closes it.
func closeFD(fd lockFD) {
	_ = windows.UnlockFileEx(fd, 0, allBytes, allBytes, new(windows.Overlapped))
	_ = windows.CloseHandle(fd)
}

// flockNB takes an exclusive lock of the whole file fd without waiting; it
// fails with EWOULDBLOCK when another handle holds one.
func flockNB(fd lockFD) error {
	err := windows.LockFileEx(fd, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY,
		0, allBytes, allBytes, new(windows.Overlapped))
	if err == windows.ERROR_LOCK_VIOLATION || err == windows.ERROR_IO_PENDING {
		return syscall.EWOULDBLOCK
	}
	return err
}

// at returns an Overlapped that positions a synchronous read or write at
// offset off.
func at(off int) *windows.Overlapped {
	return &windows.Overlapped{Offset: uint32(off), OffsetHigh: uint32(uint64(off) >> 32)}
}

// preadFull reads the file fd from its start into buf, until buf is full
// or the file ends, and returns how much it read.
func preadFull(fd lockFD, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		var m uint32
		err := windows.ReadFile(fd, buf[n:], &m, at(n))
		if err == windows.ERROR_HANDLE_EOF {
			break
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += int(m)
	}
	return n, nil
}

// writeRecord writes rec at the start of the file fd, which held old
// bytes (or more), and cuts off what is left of them after rec. The
// modification time is now.
func writeRecord(fd lockFD, rec []byte, old int) error {
	for n := 0; n < len(rec); {
		var m uint32
		if err := windows.WriteFile(fd, rec[n:], &m, at(n)); err != nil {
			return err
		}
		if m == 0 {
			return syscall.EIO
		}
		n += int(m)
	}
	if old <= len(rec) {
		return nil
	}
	return windows.Ftruncate(fd, int64(len(rec)))
}

// modTime returns the modification time of the file fd.
func modTime(fd lockFD) (time.Time, error) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(fd, &info); err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, info.LastWriteTime.Nanoseconds()), nil
}

// touchFD sets the access and modification times of the file fd to now.
func touchFD(fd lockFD) error {
	now := windows.NsecToFiletime(time.Now().UnixNano())
	return windows.SetFileTime(fd, nil, &now, &now)
}
