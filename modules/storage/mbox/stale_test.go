//go:build unix

package mbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// startDotlockHolder makes another process (this test binary, see
// TestHelperDotlockHolder) take the dotlock of spool as a session of this
// server does, and returns it once it holds it.
func startDotlockHolder(t *testing.T, spool string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDotlockHolder$")
	cmd.Env = append(os.Environ(), "MBOX_TEST_DOTLOCK="+spool)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("dotlock holder: %q, %v", line, err)
	}
	return cmd
}

// TestHelperDotlockHolder is not a test: run by startDotlockHolder, it
// takes the dotlock of the spool named by MBOX_TEST_DOTLOCK, says
// "locked" and waits for its stdin to close (or to be killed).
func TestHelperDotlockHolder(t *testing.T) {
	spool := os.Getenv("MBOX_TEST_DOTLOCK")
	if spool == "" {
		t.Skip("helper process for startDotlockHolder")
	}
	d, err := takeDotlock(spool)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = d.remove()
}

// killHolder SIGKILLs the dotlock holder and waits for it to die.
func killHolder(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// TestDotlockOwnerIdentified covers the dotlocks this server writes: they
// name their owner as owner locks do (pid, start time, boot id, pid
// namespace, host), and one whose owner is provably gone is taken over at
// once, while a live owner's is respected, however old.
func TestDotlockOwnerIdentified(t *testing.T) {
	tests := []struct {
		name string
		// lock makes the dotlock of spool and returns a function that
		// ends its owner (nil: the owner stays alive).
		lock func(t *testing.T, spool string) (kill func())
		free bool // the lock must be taken over at once
	}{
		{"owner killed", func(t *testing.T, spool string) func() {
			cmd := startDotlockHolder(t, spool)
			return func() { killHolder(t, cmd) }
		}, true},
		{"owner killed, pid reused", func(t *testing.T, spool string) func() {
			// In a container, the restarted server is PID 1 again,
			// in a new pid namespace: the dead owner's pid is alive.
			cmd := startDotlockHolder(t, spool)
			return func() {
				killHolder(t, cmd)
				b, err := os.ReadFile(spool + DotlockSuffix)
				if err != nil {
					t.Fatal(err)
				}
				pid := fmt.Sprint(cmd.Process.Pid)
				b = bytes.ReplaceAll(b, []byte(pid), []byte(fmt.Sprint(os.Getpid())))
				b = bytes.Replace(b, []byte(" pidns="), []byte(" pidns=pid:[4026531999]x"), 1)
				if err := os.WriteFile(spool+DotlockSuffix, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}, true},
		{"owner alive", func(t *testing.T, spool string) func() {
			startDotlockHolder(t, spool)
			return nil
		}, false},
		{"owner alive, lock old", func(t *testing.T, spool string) func() {
			startDotlockHolder(t, spool)
			old := time.Now().Add(-2 * StaleLockAge)
			if err := os.Chtimes(spool+DotlockSuffix, old, old); err != nil {
				t.Fatal(err)
			}
			return nil
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			m.openWait = 100 * time.Millisecond
			spool := filepath.Join(dir, alice)
			want := inventory{}
			msg := numbered("stale", 0, 100)
			if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
				t.Fatal(err)
			}
			want.add(t, msg)
			if kill := tt.lock(t, spool); kill != nil {
				kill()
			}
			b, _ := os.ReadFile(spool + DotlockSuffix)
			if !strings.Contains(string(b), "caddy-pop3 pid=") {
				t.Errorf("the dotlock does not name its owner: %q", b)
			}

			md, err := m.Open(context.Background(), alice)
			if !tt.free {
				if !errors.Is(err, storage.ErrInUse) {
					t.Fatalf("Open with a live owner's dotlock: %v, want ErrInUse", err)
				}
				m.LockTimeout = 1
				if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(msg)); !errors.Is(err, ErrLockTimeout) {
					t.Fatalf("Deliver with a live owner's dotlock: %v, want ErrLockTimeout", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open after the owner died: %v", err)
			}
			md.Close()
			m.LockTimeout = 1 // one attempt: the lock must be free at once
			late := numbered("stale-late", 0, 100)
			if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(late)); err != nil {
				t.Fatalf("Deliver after the owner died: %v", err)
			}
			want.add(t, late)
			auditMaildrop(t, m, alice, want, nil).expectClean(t)
		})
	}
}
