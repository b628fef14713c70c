//go:build unix

package maildir

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// appendWriterEnv makes the test binary a process that delivers and logs
// in, appending to the index, in a loop (see TestIndexAppendProcess).
const appendWriterEnv = "CADDY_POP3_TEST_INDEX_APPENDER"

// TestIndexAppendProcess is the child of TestIndexAppendSurvivesKill: it
// delivers message n into new/ and logs in (which extends the listing and
// appends to the index), for n from the number in its environment on,
// until it is killed, and at most a minute.
func TestIndexAppendProcess(t *testing.T) {
	env := os.Getenv(appendWriterEnv)
	if env == "" {
		t.Skip("only run as the child of TestIndexAppendSurvivesKill")
	}
	path, first, _ := cutLast(env, "|")
	n, err := strconv.Atoi(first)
	if err != nil {
		t.Fatal(err)
	}
	m := &Maildir{Path: path}
	root := filepath.Join(filepath.Dir(filepath.Dir(path)), "alice", "Maildir")
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); n++ {
		name := fmt.Sprintf("%d.M%dQ%d.mta", 1800000000+n, n, n)
		tmp := filepath.Join(root, dirTmp, name)
		if os.WriteFile(tmp, mailMessage(n), 0o600) != nil || os.Rename(tmp, filepath.Join(root, dirNew, name)) != nil {
			continue
		}
		if md, err := m.Open(context.Background(), "alice"); err == nil {
			md.Close()
		}
	}
}

func cutLast(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// TestIndexAppendSurvivesKill kills, at random moments, a process that
// delivers mail and logs in (appending to the index), and after each kill
// checks that the first login of a fresh process (empty cache) lists
// exactly what the uncached store lists, with every message there once
// and intact: the first messages, and each one the child delivered.
func TestIndexAppendSurvivesKill(t *testing.T) {
	m, root, ref, want := pollFixture(t, 300)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	next := 10000
	for i := range 10 {
		cmd := exec.Command(exe, "-test.run=^TestIndexAppendProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", appendWriterEnv, m.Path, next))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		// What the child delivered: the messages now in the maildir
		// (one killed between tmp/ and new/ was not delivered).
		for _, sub := range []string{dirCur, dirNew} {
			for _, name := range names(t, filepath.Join(root, sub)) {
				var n int
				if _, err := fmt.Sscanf(name, "18%d.", &n); err == nil {
					var k int
					if _, err := fmt.Sscanf(baseOf(name)[10:], ".M%dQ", &k); err == nil {
						want[k] = true
						next = max(next, k+1)
					}
				}
			}
		}
		// The child numbers its deliveries from where the last one
		// stopped: a gap is a lost message.
		for n := 10000; n < next; n++ {
			if !want[n] {
				t.Errorf("after kill %d: message %d, delivered, is lost", i+1, n)
			}
		}
		_ = os.Remove(filepath.Join(root, dirTmp, fmt.Sprintf("%d.M%dQ%d.mta", 1800000000+next, next, next)))
		restart()
		loginSame(t, m, ref, want).Close()
		if t.Failed() {
			t.Fatalf("after kill %d", i+1)
		}
	}
	t.Logf("%d messages delivered by the killed processes; %+v", len(want)-300, readCounters())
}
