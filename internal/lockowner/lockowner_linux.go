// Linux gives lock owners /proc: process start times, the boot id and the pid namespace.

package lockowner

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// systemIdentity returns what /proc tells about this process: its start
// time, the boot id and its pid namespace. A value it cannot read is empty.
func systemIdentity() (id struct{ start, boot, pidns string }) {
	if st, err := readProcStat("self"); err == nil {
		id.start = st.start
	}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		id.boot = strings.TrimSpace(string(b))
	}
	id.pidns, _ = os.Readlink("/proc/self/ns/pid")
	return id
}

// procStat is what judging a lock owner needs of /proc/<pid>/stat.
type procStat struct {
	state byte   // field 3: R, S, D, Z (zombie), X (dead), ...
	start string // field 22: start time in clock ticks after boot
}

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid string) (procStat, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses itself: the fields that follow start after the
	// last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc/" + pid + "/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("malformed /proc/" + pid + "/stat")
	}
	return procStat{state: f[0][0], start: f[19]}, nil
}

// processAlive reports whether the process pid of this pid namespace, that
// started at start (clock ticks after boot, or Unknown), still runs; sure
// reports whether its start time was checked too. A zombie does not run.
func processAlive(pid int, start string) (alive, sure bool) {
	st, err := readProcStat(strconv.Itoa(pid))
	if err != nil {
		// No /proc, or one that hides other users' processes: ask
		// the kernel whether the pid exists.
		return killAlive(pid), false
	}
	if st.state == 'Z' || st.state == 'X' {
		return false, true
	}
	if start == Unknown {
		return true, false
	}
	return st.start == start, true
}

// killAlive reports whether a process with that pid exists (kill(pid, 0)).
func killAlive(pid int) bool {
	if pid <= 0 {
		return false // kill would signal process groups
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// bootTime returns when this machine booted (btime in /proc/stat).
var bootTime = sync.OnceValues(func() (time.Time, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(sec, 0), true
		}
	}
	return time.Time{}, false
})
