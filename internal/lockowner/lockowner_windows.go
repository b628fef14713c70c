// Windows gives lock owners process creation times; it has no boot id or pid namespace to read.

package lockowner

import (
	"strconv"
	"time"

	"golang.org/x/sys/windows"
)

// systemIdentity returns what Windows tells about this process beyond its
// pid: its creation time (100 ns units since 1601, as a decimal number).
// There is no boot id or pid namespace to read.
func systemIdentity() (id struct{ start, boot, pidns string }) {
	id.start, _ = processStart(windows.CurrentProcess())
	return id
}

// processStart returns the creation time of the process h.
func processStart(h windows.Handle) (string, bool) {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return "", false
	}
	return strconv.FormatUint(uint64(created.HighDateTime)<<32|uint64(created.LowDateTime), 10), true
}

// stillActive is the exit code GetExitCodeProcess reports for a process
// that has not ended (STILL_ACTIVE).
const stillActive = 259

// processAlive reports whether the process pid, that started at start
// (its creation time, or Unknown), still runs; sure reports whether its
// creation time was checked too.
func processAlive(pid int, start string) (alive, sure bool) {
	if pid <= 0 || int64(pid) > int64(^uint32(0)) {
		return false, false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err == windows.ERROR_INVALID_PARAMETER {
		return false, true // no such process
	}
	if err != nil {
		return true, false // it exists, but may not be looked at
	}
	defer func() { _ = windows.CloseHandle(h) }()
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err == nil && code != stillActive {
		return false, true
	}
	if start == Unknown {
		return true, false
	}
	created, ok := processStart(h)
	if !ok {
		return true, false
	}
	return created == start, true
}

// bootTime is not told: without a boot id, a lock of a process before a
// reboot is told apart by its pid and creation time instead.
func bootTime() (time.Time, bool) {
	return time.Time{}, false
}
