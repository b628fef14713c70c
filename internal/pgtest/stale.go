package pgtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ownerFile, in a cluster's directory, holds the pid of the test binary
// that started it.
const ownerFile = "owner.pid"

// writeOwner records this process as the owner of the cluster in dir.
func writeOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

// removeStale stops and removes the clusters of test binaries that died
// without stopping them (a panic, a kill): their owner process is gone.
func (c *Cluster) removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest-*"))
	for _, dir := range dirs {
		if dir == c.dir {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, or still being created
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		stale := &Cluster{bin: c.bin, dir: dir, cred: c.cred}
		_ = stale.run("pg_ctl", "-D", stale.data(), "-m", "immediate", "-w", "-t", "30", "stop")
		os.RemoveAll(dir)
	}
}
