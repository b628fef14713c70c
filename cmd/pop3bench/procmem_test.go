package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestParentPID(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		stat string
		ppid int
		ok   bool
	}{
		{"42 (dovecot) S 1 42 42 0 -1", 1, true},
		{"43 (pop3 (x) y) S 42 42 42 0 -1", 42, true},
		{"44 (a) b) R 7 1", 7, true},
		{"45 no name", 0, false},
		{"46 (short) S", 0, false},
	} {
		path := filepath.Join(dir, "stat")
		if err := os.WriteFile(path, []byte(tc.stat), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := parentPID(path)
		if (err == nil) != tc.ok || got != tc.ppid {
			t.Errorf("%q: got %d, %v; want %d", tc.stat, got, err, tc.ppid)
		}
	}
}

func TestPSSKiB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smaps_rollup")
	text := "55d0c0000000-7ffc00000000 ---p 00000000 00:00 0 [rollup]\nRss:  9000 kB\nPss:  1234 kB\nPss_Anon: 1000 kB\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := pssKiB(path); err != nil || got != 1234 {
		t.Errorf("got %d, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("Rss: 1 kB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pssKiB(path); err == nil {
		t.Error("a file without Pss parsed")
	}
}

func TestTreePSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/smaps_rollup"); err != nil {
		t.Skip("no /proc/<pid>/smaps_rollup on this system")
	}
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Skip("cannot start a child process:", err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()

	pids, err := processTree(procRoot, []int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, os.Getpid()) || !slices.Contains(pids, child.Process.Pid) {
		t.Errorf("tree %v lacks this process or its child %d", pids, child.Process.Pid)
	}
	self, n1, err := treePSS(procRoot, []int{os.Getpid()})
	if err != nil || n1 < 2 || self <= 0 {
		t.Fatalf("tree PSS %d KiB over %d processes: %v", self, n1, err)
	}
	alone, n2, err := treePSS(procRoot, []int{child.Process.Pid})
	if err != nil || n2 != 1 || alone <= 0 || alone >= self {
		t.Errorf("child alone: %d KiB over %d processes (tree %d KiB): %v", alone, n2, self, err)
	}
}

func TestCPUSeconds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	// Fields 14-17 (utime stime cutime cstime) are 150 50 30 20 ticks.
	stat := "7 (a b) S 1 7 7 0 -1 4194560 100 0 0 0 150 50 30 20 20 0 1 0 100 1000 10"
	if err := os.WriteFile(path, []byte(stat), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := cpuSeconds(path); err != nil || got != 2.5 {
		t.Errorf("got %v, %v; want 2.5", got, err)
	}
	if err := os.WriteFile(path, []byte("7 (a) S 1 7"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cpuSeconds(path); err == nil {
		t.Error("a short stat file parsed")
	}
}

func TestTreeCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	before, err := treeCPU(procRoot, []int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the clock-tick counters move (bounded).
	x := 0
	for i := 0; i < 2_000_000_000; i++ {
		x += i
		if i%10_000_000 == 0 {
			if now, _ := treeCPU(procRoot, []int{os.Getpid()}); now > before {
				return
			}
		}
	}
	t.Errorf("CPU time did not grow (%d)", x)
}

// TestDBCPU checks that -db-pid's processes are measured apart from the
// server's: this process as the "database", no server.
func TestDBCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	m := startCPUWithDB(nil, []int{os.Getpid()})
	x := 0
	for i := 0; i < 2_000_000_000; i++ {
		x += i
		if i%10_000_000 == 0 {
			if now, _ := treeCPU(procRoot, []int{os.Getpid()}); now > m.db.server {
				break
			}
		}
	}
	r := &Result{Sessions: 4}
	m.stop(r)
	if r.DBCPUSeconds <= 0 || r.DBCPUPerSessionMs != r.DBCPUSeconds*1000/4 {
		t.Errorf("database CPU %v s, %v ms per session (%d)", r.DBCPUSeconds, r.DBCPUPerSessionMs, x)
	}
	if r.ServerCPUSeconds != 0 {
		t.Errorf("server CPU %v s measured without a server", r.ServerCPUSeconds)
	}
}
