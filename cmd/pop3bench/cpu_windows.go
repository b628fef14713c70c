// Windows gives the benchmark GetProcessTimes for its own CPU time.

package main

import "golang.org/x/sys/windows"

// selfCPU returns the user and kernel CPU seconds of this process.
func selfCPU() float64 {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &created, &exited, &kernel, &user); err != nil {
		return 0
	}
	// Filetime durations are in 100 ns units.
	ticks := func(ft windows.Filetime) int64 { return int64(ft.HighDateTime)<<32 | int64(ft.LowDateTime) }
	return float64(ticks(kernel)+ticks(user)) / 1e7
}
