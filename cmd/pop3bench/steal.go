package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// cpuTicks is the first line of /proc/stat: the machine's CPU time in
// clock ticks, all of it and the part stolen by the hypervisor (time this
// virtual machine was ready to run but another guest had the host's CPU).
type cpuTicks struct {
	total, steal uint64
	ok           bool
}

// readCPUTicks reads <root>/stat.
func readCPUTicks(root string) cpuTicks {
	f, err := os.Open(filepath.Join(root, "stat"))
	if err != nil {
		return cpuTicks{}
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if err != nil {
		return cpuTicks{}
	}
	fields := bytes.Fields(line)
	// cpu user nice system idle iowait irq softirq steal [guest guest_nice]
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return cpuTicks{}
	}
	var t cpuTicks
	for i, f := range fields[1:] {
		if i >= 8 { // guest time is already counted in user time
			break
		}
		n, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return cpuTicks{}
		}
		t.total += n
		if i == 7 {
			t.steal = n
		}
	}
	t.ok = true
	return t
}

// stealPercent returns the share of the machine's CPU time stolen between
// two readings, in percent, or -1 when it cannot tell.
func stealPercent(start, end cpuTicks) float64 {
	if !start.ok || !end.ok || end.total <= start.total || end.steal < start.steal {
		return -1
	}
	return float64(end.steal-start.steal) * 100 / float64(end.total-start.total)
}
