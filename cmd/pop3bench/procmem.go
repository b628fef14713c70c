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

// parentPID reads the parent process ID from a /proc/<pid>/stat file: the
// fourth field, counted after the command name in parentheses (which may
// itself contain spaces and parentheses).
func parentPID(statPath string) (int, error) {
	b, err := os.ReadFile(statPath)
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name", statPath)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("%s: too few fields", statPath)
	}
	return strconv.Atoi(string(f[1]))
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
