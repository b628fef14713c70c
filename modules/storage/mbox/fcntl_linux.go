// Linux gives mbox open file description locks (F_OFD_SETLK), which belong to a descriptor.

package mbox

import (
	"io"

	"golang.org/x/sys/unix"
)

// fcntlLock takes an fcntl(2) write lock on the whole of fd without
// waiting. On Linux it is an open file description lock (F_OFD_SETLK): it
// conflicts with the classic POSIX locks that MTAs and mail readers take
// (Postfix, Dovecot, mutt, procmail), but belongs to this descriptor, not
// to the process, so closing another descriptor of the same file (a
// delivery in this process) does not drop it.
func fcntlLock(fd uintptr) error {
	return unix.FcntlFlock(fd, unix.F_OFD_SETLK, &unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart})
}
