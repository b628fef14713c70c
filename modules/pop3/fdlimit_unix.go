//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package pop3

import "syscall"

// processOpenFileLimit returns the process's soft RLIMIT_NOFILE.
func processOpenFileLimit() (uint64, bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, false
	}
	return uint64(lim.Cur), true
}
