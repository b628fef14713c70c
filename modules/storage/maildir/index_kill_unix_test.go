//go:build unix

package maildir

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// indexWriterEnv makes the test binary a process that rewrites an index
// in a loop (see TestIndexWriterProcess).
const indexWriterEnv = "CADDY_POP3_TEST_INDEX_WRITER"

// TestIndexWriterProcess is the child of TestIndexSurvivesKill: it logs
// into the maildir given in its environment again and again, removing the
// index first, so that every login lists the maildir and writes the index.
// It runs until it is killed, and at most a minute.
func TestIndexWriterProcess(t *testing.T) {
	path := os.Getenv(indexWriterEnv)
	if path == "" {
		t.Skip("only run as the child of TestIndexSurvivesKill")
	}
	m := &Maildir{Path: path}
	root := filepath.Join(filepath.Dir(filepath.Dir(path)), "alice", "Maildir")
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		restart()
		_ = os.Remove(filepath.Join(root, IndexFileName))
		md, err := m.Open(context.Background(), "alice")
		if err != nil {
			continue // the parent holds the lock for a moment
		}
		md.Close()
	}
}

// TestIndexSurvivesKill kills a process that is writing the index at
// random moments and checks after each kill that a first login (empty
// cache) lists exactly what a login without cache and index lists, and
// that no message file was lost, added or renamed.
func TestIndexSurvivesKill(t *testing.T) {
	m, root, ref := indexFixture(t, 2000)
	before := append(names(t, filepath.Join(root, dirCur)), names(t, filepath.Join(root, dirNew))...)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	torn := 0
	for i := range 12 {
		cmd := exec.Command(exe, "-test.run=^TestIndexWriterProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), indexWriterEnv+"="+m.Path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rand.IntN(300)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if _, err := os.Lstat(filepath.Join(root, indexTempName)); err == nil {
			torn++ // killed while writing: the next writer replaces it
		}
		restart()
		sameAsUncached(t, m, ref, len(before))
		after := append(names(t, filepath.Join(root, dirCur)), names(t, filepath.Join(root, dirNew))...)
		if !slices.Equal(after, before) {
			t.Fatalf("kill %d: the message files changed: %d before, %d after", i+1, len(before), len(after))
		}
	}
	t.Logf("%d of 12 kills left a half-written %s", torn, indexTempName)
}
