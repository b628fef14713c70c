package pgtest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times (100 on every
// Linux architecture Go supports).
const clockTicks = 100

// CPUSeconds returns the CPU time the server has used so far: the
// postmaster's own and its ended children's, plus that of its live
// children (the backends, the WAL writer, the checkpointer...). The
// difference of two readings is what the database spent in between;
// benchmarks report it per operation.
func (c *Cluster) CPUSeconds() (float64, error) {
	pidFile, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(pidFile), "\n")
	postmaster, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, errors.New("pgtest: no process id in postmaster.pid")
	}
	total, _, err := procCPU(postmaster, true)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		s, parent, err := procCPU(pid, false)
		if err == nil && parent == postmaster {
			total += s
		}
	}
	return total, nil
}

// ProcessCPU returns the CPU time this process has used so far (user and
// system, all threads).
func ProcessCPU() (float64, error) {
	s, _, err := procCPU(os.Getpid(), false)
	return s, err
}

// procCPU reads utime and stime of pid (with children: also cutime and
// cstime, the children it has reaped) and its parent's pid.
func procCPU(pid int, children bool) (float64, int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, err
	}
	// The command name is in parentheses and may hold spaces: the fields
	// counted below start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("pgtest: unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is the state (field 3); ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 {
		return 0, 0, errors.New("pgtest: short /proc stat")
	}
	parent, _ := strconv.Atoi(f[1])
	last := 12
	if children {
		last = 14
	}
	var ticks int64
	for _, s := range f[11 : last+1] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		ticks += n
	}
	return float64(ticks) / clockTicks, parent, nil
}
