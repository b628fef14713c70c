package storage

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// helperEnv, when set, makes the test binary a helper process (see
// helperMain) instead of running the tests.
const helperEnv = "CADDY_POP3_OWNERLOCK_HELPER"

// TestMain runs the tests, or the helper process; it fails the tests if a
// goroutine (a lock refresher) outlives them.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helperMain(mode)
		return
	}
	goleak.VerifyTestMain(m)
}

// helperMain is a helper process. With mode "hold:<path>" it takes the lock
// at path and prints "ok" (or "err <error>"); with mode "wait" it prints
// "ok". Then it waits for its standard input to close, releases the lock
// and exits.
func helperMain(mode string) {
	var lock *OwnerLock
	if path, ok := strings.CutPrefix(mode, "hold:"); ok {
		var err error
		if lock, err = AcquireOwnerLock(path); err != nil {
			fmt.Printf("err %v\n", err)
			os.Exit(0)
		}
	}
	fmt.Println("ok")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := lock.Unlock(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	said  string // its first line
}

// startHelper starts a helper process in the given mode and waits for its
// first line. The helper is killed at the end of the test.
func startHelper(t *testing.T, mode string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
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
	h := &helper{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Kill()
			_ = h.cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	h.said = strings.TrimSpace(line)
	return h
}

// stop closes the helper's input (it releases its lock and exits) and
// waits for it.
func (h *helper) stop(t *testing.T) {
	t.Helper()
	_ = h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
}

// kill kills the helper with SIGKILL and reaps it.
func (h *helper) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Wait()
}

// lockPath returns the path of a lock file in a new directory.
func lockPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "caddy-pop3.lock")
}

// mustAcquire takes the lock at path and fails the test if it cannot.
func mustAcquire(t *testing.T, path string) *OwnerLock {
	t.Helper()
	l, err := AcquireOwnerLock(path)
	if err != nil {
		t.Fatalf("AcquireOwnerLock: %v", err)
	}
	return l
}

// expectInUse checks that the lock at path cannot be taken.
func expectInUse(t *testing.T, path string) {
	t.Helper()
	l, err := AcquireOwnerLock(path)
	if err == nil {
		_ = l.Unlock()
		t.Fatal("AcquireOwnerLock succeeded on a held lock")
	}
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("AcquireOwnerLock: %v, want ErrInUse", err)
	}
}

// expectContent checks the content of the file at path.
func expectContent(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("lock file holds %q, want %q", b, want)
	}
}

// expectGone checks that nothing is at path.
func expectGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after Unlock: %v, want it gone", err)
	}
}

// expectNoLocks checks that the registry is empty and its refresher gone.
func expectNoLocks(t *testing.T) {
	t.Helper()
	locks.mu.Lock()
	defer locks.mu.Unlock()
	if len(locks.held) != 0 || locks.refresher != nil {
		t.Errorf("registry holds %d locks (refresher %v), want none", len(locks.held), locks.refresher != nil)
	}
}

func TestOwnerLockAcquireRelease(t *testing.T) {
	path := lockPath(t)
	l := mustAcquire(t, path)
	expectContent(t, path, self().line)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v, want 0600", fi.Mode().Perm())
	}
	expectInUse(t, path) // another session of this process
	expectContent(t, path, self().line)
	other := mustAcquire(t, lockPath(t)) // another maildrop is free
	if err := l.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	expectGone(t, path)
	if err := l.Unlock(); err != nil { // twice
		t.Errorf("second Unlock: %v", err)
	}
	var nilLock *OwnerLock
	if err := nilLock.Unlock(); err != nil {
		t.Errorf("Unlock of nil: %v", err)
	}
	l = mustAcquire(t, path) // free again
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := other.Unlock(); err != nil {
		t.Fatal(err)
	}
	expectNoLocks(t)
}

func TestOwnerLockUnparseableAndForeign(t *testing.T) {
	me := self()
	tests := []struct {
		name    string
		content string
		age     time.Duration
		held    bool
	}{
		{name: "empty young (being created)", content: "", age: time.Second, held: true},
		{name: "empty old (older caddy-pop3)", content: "", age: time.Minute},
		{name: "foreign young", content: "12345\n", age: 10 * time.Second, held: true},
		{name: "foreign old", content: "12345\n", age: time.Hour},
		{name: "no newline young", content: strings.TrimSuffix(me.line, "\n"), age: time.Second, held: true},
		{name: "missing field old", content: "caddy-pop3 pid=1 start=1 boot=x host=h\n", age: time.Minute},
		{name: "too long old", content: "caddy-pop3 pid=1 start=1 boot=x pidns=y host=" + strings.Repeat("h", maxOwnerLine) + "\n", age: time.Minute},
		{name: "in the future", content: "", age: -time.Hour, held: true},
		{name: "own leftover", content: me.line, age: time.Second},
		{name: "own leftover old", content: me.line, age: time.Hour},
		{name: "other host fresh", content: newIdentity(me.pid, me.start, "other-boot", me.pidns, "elsewhere").line, age: StaleLockAge - time.Minute, held: true},
		{name: "other host old", content: newIdentity(me.pid, me.start, "other-boot", me.pidns, "elsewhere").line, age: StaleLockAge + time.Minute},
		{name: "other pid namespace fresh", content: newIdentity(1, "1", me.boot, "pid:[1]", me.host).line, age: 2 * time.Minute, held: true},
		{name: "other pid namespace old", content: newIdentity(1, "1", me.boot, "pid:[1]", me.host).line, age: StaleLockAge + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOwner(t, tt.content, time.Now().Add(-tt.age), tt.held)
		})
	}
}

// checkOwner writes a lock file with content and modification time mtime,
// and checks that AcquireOwnerLock finds it held, or takes it over.
func checkOwner(t *testing.T, content string, mtime time.Time, held bool) {
	t.Helper()
	path := lockPath(t)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if held {
		expectInUse(t, path)
		expectContent(t, path, content)
		expectNoLocks(t)
		return
	}
	l := mustAcquire(t, path)
	expectContent(t, path, self().line)
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the stale lock file was replaced, not taken over in place")
	}
	if time.Since(after.ModTime()) > time.Minute {
		t.Errorf("taken-over lock file has mtime %v, want now", after.ModTime())
	}
	expectInUse(t, path)
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	expectGone(t, path)
	expectNoLocks(t)
}

func TestOwnerLockFlockHeld(t *testing.T) {
	// An older caddy-pop3 holds the file by flock, or another would-be
	// owner is looking at it: even a stale lock is then in use.
	path := lockPath(t)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	expectInUse(t, path)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	l := mustAcquire(t, path)
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestOwnerLockSymlink(t *testing.T) {
	for _, dangling := range []bool{false, true} {
		t.Run(fmt.Sprintf("dangling=%v", dangling), func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "target")
			if !dangling {
				if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "caddy-pop3.lock")
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			l, err := AcquireOwnerLock(path)
			if err == nil {
				_ = l.Unlock()
				t.Fatal("AcquireOwnerLock followed a symbolic link")
			}
			if errors.Is(err, ErrInUse) {
				t.Errorf("AcquireOwnerLock: %v, want an error other than ErrInUse", err)
			}
			if dangling {
				if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("target of the dangling link: %v, want none", err)
				}
			} else {
				expectContent(t, target, "precious\n")
			}
			expectNoLocks(t)
		})
	}
}

func TestOwnerLockUnlockKeepsAnotherFile(t *testing.T) {
	// Someone removed the lock file by hand and another lock file is
	// there now: Unlock must not remove it.
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("inode reused=%v", reuse), func(t *testing.T) {
			path := lockPath(t)
			l := mustAcquire(t, path)
			other := newIdentity(1, "1", "b", "n", "elsewhere").line
			if reuse {
				// A file system may give the next file the
				// removed one's inode number: even then, the
				// file is not ours.
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(other), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.WriteFile(path+".new", []byte(other), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(path+".new", path); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Unlock(); err != nil {
				t.Fatalf("Unlock: %v", err)
			}
			expectContent(t, path, other)
			expectNoLocks(t)
		})
	}
}

func TestOwnerLockRace(t *testing.T) {
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprintf("stale=%v", stale), func(t *testing.T) {
			path := lockPath(t)
			for round := range 20 {
				if stale {
					// Left by an older version: all of them try to
					// take it over at once.
					if err := os.WriteFile(path, nil, 0o600); err != nil {
						t.Fatal(err)
					}
					old := time.Now().Add(-time.Hour)
					if err := os.Chtimes(path, old, old); err != nil {
						t.Fatal(err)
					}
				}
				const n = 32
				var (
					wg    sync.WaitGroup
					start = make(chan struct{})
					got   = make(chan *OwnerLock, n)
					errs  = make(chan error, n)
				)
				for range n {
					wg.Go(func() {
						<-start
						l, err := AcquireOwnerLock(path)
						if err != nil {
							errs <- err
							return
						}
						got <- l
					})
				}
				close(start)
				wg.Wait()
				close(got)
				close(errs)
				for err := range errs {
					if !errors.Is(err, ErrInUse) {
						t.Errorf("round %d: %v", round, err)
					}
				}
				if len(got) != 1 {
					t.Fatalf("round %d: %d winners, want 1", round, len(got))
				}
				l := <-got
				expectContent(t, path, self().line)
				if err := l.Unlock(); err != nil {
					t.Fatal(err)
				}
				expectNoLocks(t)
			}
		})
	}
}

func TestOwnerLockHoldsNoDescriptor(t *testing.T) {
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	countFDs := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	dir := t.TempDir()
	warm := mustAcquire(t, filepath.Join(dir, "warm")) // the runtime's own descriptors, if any
	before := countFDs()
	var held []*OwnerLock
	for i := range 100 {
		held = append(held, mustAcquire(t, filepath.Join(dir, fmt.Sprint(i))))
	}
	expectInUse(t, filepath.Join(dir, "0"))
	if after := countFDs(); after != before {
		t.Errorf("%d descriptors with 100 more locks held, %d before", after, before)
	}
	for _, l := range append(held, warm) {
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
	expectNoLocks(t)
}

func TestOwnerLockRefresh(t *testing.T) {
	saved := refreshInterval
	refreshInterval = 10 * time.Millisecond
	defer func() { refreshInterval = saved }()

	path := lockPath(t)
	l := mustAcquire(t, path)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(fi.ModTime()) < time.Minute {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock file was not touched")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	expectNoLocks(t) // the refresher is gone with the last lock
}

func TestOwnerLockCrossProcess(t *testing.T) {
	path := lockPath(t)

	// Another process holds it: this one is told it is in use, and the
	// other way round.
	h := startHelper(t, "hold:"+path)
	if h.said != "ok" {
		t.Fatalf("helper: %s", h.said)
	}
	expectInUse(t, path)
	h.stop(t) // releases it
	expectGone(t, path)
	l := mustAcquire(t, path)
	if h := startHelper(t, "hold:"+path); !strings.HasPrefix(h.said, "err "+ErrInUse.Error()) {
		t.Errorf("helper took a lock this process holds: %s", h.said)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}

	// A holder killed with SIGKILL leaves a lock that is taken over at
	// once.
	h = startHelper(t, "hold:"+path)
	if h.said != "ok" {
		t.Fatalf("helper: %s", h.said)
	}
	expectInUse(t, path)
	h.kill(t)
	l = mustAcquire(t, path)
	expectContent(t, path, self().line)
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	expectNoLocks(t)
}

func TestParseOwner(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
		pid  int
		host string
	}{
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=pid:[1] host=h\n", ok: true, pid: 42, host: "h"},
		{line: "caddy-pop3 host=h pidns=- boot=- start=- pid=42 future=x\n", ok: true, pid: 42, host: "h"},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h\r\n", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h\nmore\n", ok: false},
		{line: "caddy-pop3 pid=0 start=7 boot=b pidns=n host=h\n", ok: false},
		{line: "caddy-pop3 pid=-1 start=7 boot=b pidns=n host=h\n", ok: false},
		{line: "caddy-pop3 pid=x start=7 boot=b pidns=n host=h\n", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n\n", ok: false},
		{line: "caddy-pop3 pid=42 start= boot=b pidns=n host=h\n", ok: false},
		{line: "caddy-pop3 pid=42 start boot=b pidns=n host=h\n", ok: false},
		{line: "dovecot pid=42 start=7 boot=b pidns=n host=h\n", ok: false},
		{line: "\n", ok: false},
		{line: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.line), func(t *testing.T) {
			id, ok := parseOwner([]byte(tt.line))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && (id.pid != tt.pid || id.host != tt.host) {
				t.Errorf("pid %d host %q, want %d %q", id.pid, id.host, tt.pid, tt.host)
			}
		})
	}
}

func TestIdentityLine(t *testing.T) {
	id := newIdentity(7, "", "b\n", " pid:[1] ", "my host\x00é")
	want := "caddy-pop3 pid=7 start=- boot=b pidns=pid:[1] host=my_host___\n"
	if id.line != want {
		t.Errorf("line %q, want %q", id.line, want)
	}
	back, ok := parseOwner([]byte(id.line))
	if !ok || back.line != id.line {
		t.Errorf("parsed back as %+v, %v", back, ok)
	}
	if self().pid != os.Getpid() || self().host == "" {
		t.Errorf("self() = %+v", self())
	}
}
