// Other Unix systems give lock owners kill(2) only: a holder is checked by its pid alone.

//go:build unix && !linux

package lockowner

import (
	"errors"
	"syscall"
	"time"
)

// systemIdentity returns what this system tells about this process beyond
// its pid: without /proc, nothing. Locks of other processes on this
// machine are then checked by pid alone (see processAlive).
func systemIdentity() (id struct{ start, boot, pidns string }) {
	return id
}

// processAlive reports whether a process with that pid exists. It cannot
// tell a reused pid, so it is never sure: the lock of a live caddy-pop3 is
// also fresh.
func processAlive(pid int, _ string) (alive, sure bool) {
	if pid <= 0 {
		return false, false // kill would signal process groups
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM), false
}

// bootTime cannot tell when this machine booted.
func bootTime() (time.Time, bool) {
	return time.Time{}, false
}
