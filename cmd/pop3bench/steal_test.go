package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStealPercent(t *testing.T) {
	dir := t.TempDir()
	write := func(line string) cpuTicks {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line+"\ncpu0 1 2 3\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return readCPUTicks(dir)
	}
	start := write("cpu  100 0 50 800 0 0 0 50 30 0")
	if !start.ok || start.total != 1000 || start.steal != 50 {
		t.Fatalf("read %+v, want total 1000 (guest left out), steal 50", start)
	}
	end := write("cpu  200 0 100 1400 0 0 0 300 60 0")
	if got := stealPercent(start, end); got != 25 {
		t.Errorf("steal %.2f%%, want 25%% (250 of 1000 ticks)", got)
	}
	for _, bad := range []string{"cpu  1 2 3", "intr 1 2 3 4 5 6 7 8 9", "cpu  a b c d e f g h i"} {
		if got := stealPercent(start, write(bad)); got != -1 {
			t.Errorf("%q: steal %v, want -1", bad, got)
		}
	}
	if got := stealPercent(start, start); got != -1 {
		t.Errorf("no time passed: steal %v, want -1", got)
	}
}
