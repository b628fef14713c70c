// Linux takes read-ahead advice for a message file.

package maildir

import "golang.org/x/sys/unix"

// sequentialFrom is the file size from which a message is opened with
// POSIX_FADV_SEQUENTIAL: RETR reads it once from start to end, and the
// advice doubles the kernel's read-ahead window. A smaller message is read
// in one or two system calls, where the advice would only add a third.
const sequentialFrom = 256 << 10

// adviseSequential tells the kernel that the open message fd of size
// octets will be read sequentially. Advice is best effort: an error
// changes nothing.
func adviseSequential(fd int, size int64) {
	if size >= sequentialFrom {
		_ = unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
	}
}
