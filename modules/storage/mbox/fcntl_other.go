// Other Unix systems give mbox classic POSIX fcntl locks, which belong to the process.

//go:build unix && !linux

package mbox

import (
	"io"

	"golang.org/x/sys/unix"
)

// fcntlLock takes a POSIX fcntl(2) write lock on the whole of fd without
// waiting. Outside Linux there are no open file description locks: the
// lock belongs to the process, so it does not keep two descriptors of
// this process apart (the flock lock and the dotlock still do).
func fcntlLock(fd uintptr) error {
	return unix.FcntlFlock(fd, unix.F_SETLK, &unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart})
}
