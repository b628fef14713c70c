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
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	next := lim
	next.Cur = want
	if next.Max < want {
		next.Max = want // only root may do this
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err == nil {
		return want, nil
	}
	next = lim
	next.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err != nil {
		return lim.Cur, err
	}
	if next.Cur < want {
		return next.Cur, fmt.Errorf("open-file limit is %d, below the %d this run needs (raise it with ulimit -n)", next.Cur, want)
	}
	return next.Cur, nil
}
