package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// procRoot is where the process file system is mounted.
const procRoot = "/proc"

// processTree returns roots and all their descendants that exist now, from
// the parent of every process in procRoot.
func processTree(root string, roots []int) ([]int, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, err := parentPID(filepath.Join(root, e.Name(), "stat"))
		if err != nil {
			continue // the process ended while we looked
		}
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	seen := map[int]bool{}
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out, nil
}

// statFields reads a /proc/<pid>/stat file and returns its fields from
// the third (state) on: they follow the command name in parentheses, which
// may itself contain spaces and parentheses.
func statFields(statPath string) ([][]byte, error) {
	b, err := os.ReadFile(statPath)
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("%s: no command name", statPath)
	}
	return bytes.Fields(b[i+1:]), nil
}

// parentPID reads the parent process ID (the fourth field) from a
// /proc/<pid>/stat file.
func parentPID(statPath string) (int, error) {
	f, err := statFields(statPath)
	if err != nil {
		return 0, err
	}
	if len(f) < 2 {
		return 0, fmt.Errorf("%s: too few fields", statPath)
	}
	return strconv.Atoi(string(f[1]))
}

// clockTicks is USER_HZ, the unit of CPU times in /proc: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds reads the CPU time of a process and of its children that
// have ended and been waited for (utime, stime, cutime and cstime: fields
// 14 to 17) from a /proc/<pid>/stat file.
func cpuSeconds(statPath string) (float64, error) {
	f, err := statFields(statPath)
	if err != nil {
		return 0, err
	}
	if len(f) < 15 {
		return 0, fmt.Errorf("%s: too few fields", statPath)
	}
	var ticks int64
	for _, field := range f[11:15] {
		n, err := strconv.ParseInt(string(field), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", statPath, err)
		}
		ticks += n
	}
	return float64(ticks) / clockTicks, nil
}

// treeCPU sums the CPU time of roots and their descendants, including
// descendants that have already ended (through their parents' cutime and
// cstime), so the difference of two readings is the CPU the server used in
// between, even when it forks and reaps processes.
func treeCPU(root string, roots []int) (float64, error) {
	pids, err := processTree(root, roots)
	if err != nil {
		return 0, err
	}
	var total float64
	found := false
	for _, pid := range pids {
		s, err := cpuSeconds(filepath.Join(root, strconv.Itoa(pid), "stat"))
		if err != nil {
			continue // it ended while we read; its parent counts it
		}
		total += s
		found = true
	}
	if !found {
		return 0, fmt.Errorf("no process found among %v", roots)
	}
	return total, nil
}

// pssKiB reads the proportional set size from a smaps_rollup file.
func pssKiB(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("Pss:")) {
			continue
		}
		fields := bytes.Fields(line[len("Pss:"):])
		if len(fields) < 1 {
			break
		}
		return strconv.ParseInt(string(fields[0]), 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no Pss line", path)
}

// treePSS sums the PSS of roots and their descendants. Processes that end
// while it reads are left out; it returns how many processes it counted.
func treePSS(root string, roots []int) (kib int64, procs int, err error) {
	pids, err := processTree(root, roots)
	if err != nil {
		return 0, 0, err
	}
	for _, pid := range pids {
		dir := filepath.Join(root, strconv.Itoa(pid))
		k, err := pssKiB(filepath.Join(dir, "smaps_rollup"))
		if err != nil {
			if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
				continue // it ended while we read
			}
			return 0, 0, fmt.Errorf("process %d: %w", pid, err)
		}
		kib += k
		procs++
	}
	if procs == 0 {
		return 0, 0, fmt.Errorf("no process found among %v", roots)
	}
	return kib, procs, nil
}
