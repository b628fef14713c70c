// Unix gives the benchmark RLIMIT_NOFILE, raised as far as the hard limit (or root) allows.

//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseNoFile raises the open-file limit to at least want (each connection
// is a file descriptor), as far as the hard limit allows, or beyond it when
// running as root. It returns the soft limit in force.
func raiseNoFile(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if uint64(lim.Cur) >= want {
		return uint64(lim.Cur), nil
	}
	next := lim
	setLimit(&next.Cur, want)
	if uint64(next.Max) < want {
		setLimit(&next.Max, want) // only root may do this
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err == nil {
		return want, nil
	}
	next = lim
	next.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err != nil {
		return uint64(lim.Cur), err
	}
	if uint64(next.Cur) < want {
		return uint64(next.Cur), fmt.Errorf("open-file limit is %d, below the %d this run needs (raise it with ulimit -n)", next.Cur, want)
	}
	return uint64(next.Cur), nil
}

// setLimit sets a field of syscall.Rlimit, which is uint64 on Linux and
// macOS but int64 on FreeBSD and OpenBSD, to v.
func setLimit[T int64 | uint64](field *T, v uint64) {
	*field = T(v)
}
