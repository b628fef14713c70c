// Unix gives the benchmark getrusage(2) for its own CPU time.

//go:build unix

package main

import "syscall"

// selfCPU returns the user and system CPU seconds of this process.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
