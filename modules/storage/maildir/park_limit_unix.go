//go:build unix

package maildir

import "golang.org/x/sys/unix"

// openFileLimit returns the process's soft RLIMIT_NOFILE (Go raises it to
// the hard limit at start).
func openFileLimit() (uint64, bool) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true
}
