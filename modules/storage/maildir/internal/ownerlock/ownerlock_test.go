package ownerlock

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/caddy-pop3/caddy-pop3/internal/lockowner"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
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
	var lock *Lock
	if path, ok := strings.CutPrefix(mode, "hold:"); ok {
		var err error
		if lock, err = Acquire(path); err != nil {
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
func mustAcquire(t *testing.T, path string) *Lock {
	t.Helper()
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return l
}

// expectInUse checks that the lock at path cannot be taken.
func expectInUse(t *testing.T, path string) {
	t.Helper()
	l, err := Acquire(path)
	if err == nil {
		_ = l.Unlock()
		t.Fatal("Acquire succeeded on a held lock")
	}
	if !errors.Is(err, storage.ErrInUse) {
		t.Fatalf("Acquire: %v, want storage.ErrInUse", err)
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

// record returns the record of this process's lock token.
func record(token uint64) string {
	return string(appendRecord(nil, token))
}

// ident holds the values of an identity line (see package lockowner), as
// the tests write them in lock files of other owners. Each value must be
// one word of printable ASCII.
type ident struct {
	pid                      int
	start, boot, pidns, host string
}

// selfIdent returns the values of this process's identity line.
func selfIdent(t *testing.T) ident {
	t.Helper()
	line := lockowner.Self().Line()
	v := make(map[string]string)
	for _, f := range strings.Fields(line)[1:] {
		k, val, _ := strings.Cut(f, "=")
		v[k] = val
	}
	pid, err := strconv.Atoi(v["pid"])
	if err != nil {
		t.Fatalf("identity line %q: %v", line, err)
	}
	id := ident{pid: pid, start: v["start"], boot: v["boot"], pidns: v["pidns"], host: v["host"]}
	if id.key() != line {
		t.Fatalf("identity line %q read back as %q", line, id.key())
	}
	return id
}

// key returns the identity line, without a lock= field and newline.
func (id ident) key() string {
	return fmt.Sprintf("caddy-pop3 pid=%d start=%s boot=%s pidns=%s host=%s", id.pid, id.start, id.boot, id.pidns, id.host)
}

// line returns the owner line of the lock token, with its newline and
// without padding.
func (id ident) line(token uint64) string {
	return id.key() + " lock=" + strconv.FormatUint(token, 10) + "\n"
}

// record returns the record of the lock token: its owner line, padded
// with spaces to lockRecordSize bytes.
func (id ident) record(token uint64) string {
	return string(pad([]byte(strings.TrimSuffix(id.line(token), "\n")), 0))
}

// expectHeld checks that the file at path holds l's record.
func expectHeld(t *testing.T, path string, l *Lock) {
	t.Helper()
	expectContent(t, path, record(l.token))
}

// expectFree checks that the file at path is still there and holds the
// free record.
func expectFree(t *testing.T, path string) {
	t.Helper()
	expectContent(t, path, string(freeRecord))
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

// writeAged writes content to path and sets its modification time.
func writeAged(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// mustUnlock releases l and fails the test if it cannot.
func mustUnlock(t *testing.T, l *Lock) {
	t.Helper()
	if err := l.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func TestOwnerLockAcquireRelease(t *testing.T) {
	path := lockPath(t)
	l := mustAcquire(t, path)
	expectHeld(t, path, l)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v, want 0600", fi.Mode().Perm())
	}
	if fi.Size() != lockRecordSize {
		t.Errorf("lock file of %d bytes, want %d", fi.Size(), lockRecordSize)
	}
	expectInUse(t, path) // another session of this process
	expectHeld(t, path, l)
	other := mustAcquire(t, lockPath(t)) // another maildrop is free
	mustUnlock(t, l)
	expectFree(t, path) // the file stays
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(fi, after) {
		t.Error("the lock file was replaced at release")
	}
	if err := l.Unlock(); err != nil { // twice
		t.Errorf("second Unlock: %v", err)
	}
	expectFree(t, path)
	var nilLock *Lock
	if err := nilLock.Unlock(); err != nil {
		t.Errorf("Unlock of nil: %v", err)
	}
	again := mustAcquire(t, path) // free again
	if again.token == l.token {
		t.Errorf("the lock was taken again with the same token %d", l.token)
	}
	expectHeld(t, path, again)
	expectInUse(t, path)
	mustUnlock(t, again)
	expectFree(t, path)
	mustUnlock(t, other)
	expectNoLocks(t)
}

func TestOwnerLockFreeContent(t *testing.T) {
	// A new file, an empty one (created by someone else, or by an older
	// caddy-pop3 that no longer holds it), white space and the free
	// record are all free, however fresh.
	for _, content := range []string{"", "\n", " \t\r\n", string(freeRecord), strings.Repeat(" ", 600) + "\n"} {
		t.Run(fmt.Sprintf("%d bytes", len(content)), func(t *testing.T) {
			path := lockPath(t)
			writeAged(t, path, content, time.Now())
			l := mustAcquire(t, path)
			expectHeld(t, path, l)
			mustUnlock(t, l)
			expectFree(t, path)
			expectNoLocks(t)
		})
	}
}

func TestOwnerLockUnparseableAndForeign(t *testing.T) {
	me := selfIdent(t)
	padded := func(id ident, token uint64) string { return id.record(token) }
	elsewhere := ident{me.pid, me.start, "other-boot", me.pidns, "elsewhere"}
	otherNS := ident{1, "1", me.boot, "pid:[1]", me.host}
	tests := []struct {
		name    string
		content string
		age     time.Duration
		held    bool
	}{
		{name: "foreign young", content: "12345\n", age: 10 * time.Second, held: true},
		{name: "foreign old", content: "12345\n", age: time.Hour},
		{name: "foreign in the future", content: "12345\n", age: -time.Hour, held: true},
		{name: "no newline young", content: strings.TrimSuffix(me.line(1), "\n"), age: time.Second, held: true},
		{name: "bad lock= young", content: me.key() + " lock=x\n", age: time.Second, held: true},
		{name: "bad lock= old", content: me.key() + " lock=x\n", age: time.Minute},
		{name: "missing field old", content: "caddy-pop3 pid=1 start=1 boot=x host=h\n", age: time.Minute},
		{name: "too long old", content: "caddy-pop3 pid=1 start=1 boot=x pidns=y host=" + strings.Repeat("h", maxOwnerLine) + "\n", age: time.Minute},
		{name: "own leftover without lock=", content: me.key() + "\n", age: time.Second},
		{name: "own leftover", content: me.line(1 << 62), age: time.Second},
		{name: "own leftover padded", content: padded(me, 1<<62), age: time.Second},
		{name: "own leftover old", content: me.line(1 << 62), age: time.Hour},
		{name: "other host fresh", content: elsewhere.line(1), age: StaleLockAge - time.Minute, held: true},
		{name: "other host fresh padded", content: padded(elsewhere, 1), age: StaleLockAge - time.Minute, held: true},
		{name: "other host fresh without lock=", content: elsewhere.key() + "\n", age: StaleLockAge - time.Minute, held: true},
		{name: "other host old", content: elsewhere.line(1), age: StaleLockAge + time.Minute},
		{name: "other host old padded", content: padded(elsewhere, 1), age: StaleLockAge + time.Minute},
		{name: "other pid namespace fresh", content: otherNS.line(7), age: 2 * time.Minute, held: true},
		{name: "other pid namespace old", content: otherNS.line(7), age: StaleLockAge + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOwner(t, tt.content, time.Now().Add(-tt.age), tt.held)
		})
	}
}

// checkOwner writes a lock file with content and modification time mtime,
// and checks that Acquire finds it held, or takes it over.
func checkOwner(t *testing.T, content string, mtime time.Time, held bool) {
	t.Helper()
	path := lockPath(t)
	writeAged(t, path, content, mtime)
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
	expectHeld(t, path, l)
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
	mustUnlock(t, l)
	expectFree(t, path)
	expectNoLocks(t)
}

func TestOwnerLockOwnLeftover(t *testing.T) {
	// A record of this process whose token is not registered (a lock
	// whose Unlock could not free it) is a leftover: taken over, even
	// while another lock of this process is held.
	path := lockPath(t)
	busy := mustAcquire(t, lockPath(t))
	writeAged(t, path, record(busy.token+1000), time.Now())
	l := mustAcquire(t, path)
	expectHeld(t, path, l)
	expectInUse(t, path)
	mustUnlock(t, l)
	expectFree(t, path)
	mustUnlock(t, busy)
	expectNoLocks(t)
}

func TestOwnerLockAliasedPaths(t *testing.T) {
	// The record names the lock, not the path: another path to the same
	// file finds it held.
	dir := t.TempDir()
	path := filepath.Join(dir, "caddy-pop3.lock")
	l := mustAcquire(t, path)
	hard := filepath.Join(dir, "hard.lock")
	if err := os.Link(path, hard); err != nil {
		t.Fatal(err)
	}
	linkedDir := filepath.Join(t.TempDir(), "maildir")
	if err := os.Symlink(dir, linkedDir); err != nil {
		t.Fatal(err)
	}
	for _, alias := range []string{hard, filepath.Join(linkedDir, "caddy-pop3.lock"), filepath.Join(dir, ".", "caddy-pop3.lock")} {
		expectInUse(t, alias)
	}
	mustUnlock(t, l)
	expectFree(t, hard)
	l = mustAcquire(t, filepath.Join(linkedDir, "caddy-pop3.lock"))
	expectInUse(t, path)
	mustUnlock(t, l)
	expectFree(t, path)
	expectNoLocks(t)
}

func TestOwnerLockLongContent(t *testing.T) {
	for _, size := range []int{lockRecordSize + 1, 300, maxOwnerLine, maxOwnerLine + 1, 64 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			path := lockPath(t)
			content := strings.Repeat("x", size-1) + "\n"
			// Fresh, it is in use and left alone.
			writeAged(t, path, content, time.Now())
			expectInUse(t, path)
			expectContent(t, path, content)
			// Old, it is taken over and cut to one record.
			writeAged(t, path, content, time.Now().Add(-time.Hour))
			l := mustAcquire(t, path)
			expectHeld(t, path, l)
			mustUnlock(t, l)
			expectFree(t, path)
			expectNoLocks(t)
		})
	}
	t.Run("long free", func(t *testing.T) {
		path := lockPath(t)
		writeAged(t, path, strings.Repeat(" ", 600)+"\n", time.Now())
		l := mustAcquire(t, path)
		expectHeld(t, path, l) // exactly lockRecordSize bytes
		mustUnlock(t, l)
		expectFree(t, path)
	})
}

// holdFlock takes a flock of path on a descriptor of its own, as an older
// caddy-pop3 or a would-be owner deciding; release drops it.
func holdFlock(t *testing.T, path string) (release func()) {
	t.Helper()
	fd, err := openLockFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := flockNB(fd); err != nil {
		closeFD(fd)
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { closeFD(fd) }) }
	t.Cleanup(release)
	return release
}

func TestOwnerLockFlockHeld(t *testing.T) {
	// An older caddy-pop3 holds the file by flock, or another would-be
	// owner is looking at it: even a free or stale lock is then in use.
	for _, content := range []string{"", "12345\n"} {
		t.Run(fmt.Sprintf("%q", content), func(t *testing.T) {
			path := lockPath(t)
			writeAged(t, path, content, time.Now().Add(-time.Hour))
			release := holdFlock(t, path)
			expectInUse(t, path)
			expectContent(t, path, content)
			release()
			l := mustAcquire(t, path)
			mustUnlock(t, l)
			expectFree(t, path)
			expectNoLocks(t)
		})
	}
}

func TestOwnerLockUnlockWaitsForFlock(t *testing.T) {
	path := lockPath(t)

	// Someone looks at the file for a moment: Unlock waits for it.
	l := mustAcquire(t, path)
	release := holdFlock(t, path)
	time.AfterFunc(20*time.Millisecond, release)
	mustUnlock(t, l)
	expectFree(t, path)
	expectNoLocks(t)

	// Someone holds it for good (an older caddy-pop3): Unlock gives up,
	// the record stays, and this process takes it for a leftover.
	l = mustAcquire(t, path)
	release = holdFlock(t, path)
	start := time.Now()
	if err := l.Unlock(); err == nil {
		t.Error("Unlock succeeded without the flock")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Unlock gave up after %v", d)
	}
	expectNoLocks(t)
	expectHeld(t, path, l)
	release()
	again := mustAcquire(t, path)
	expectHeld(t, path, again)
	mustUnlock(t, again)
	expectFree(t, path)
	expectNoLocks(t)
}

func TestOwnerLockProcFDReader(t *testing.T) {
	// A program that looks at the process's descriptors (lsof, ss -p)
	// can make a descriptor that was just closed keep its flock for a
	// moment: a free lock must not look in use for that.
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for fd := range 32 {
				_, _ = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()
	path := lockPath(t)
	for i := range 10000 {
		l, err := Acquire(path)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		mustUnlock(t, l)
	}
	expectFree(t, path)
	expectNoLocks(t)
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
			l, err := Acquire(path)
			if err == nil {
				_ = l.Unlock()
				t.Fatal("Acquire followed a symbolic link")
			}
			if errors.Is(err, storage.ErrInUse) {
				t.Errorf("Acquire: %v, want an error other than storage.ErrInUse", err)
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

func TestOwnerLockUnlockLeavesAnotherOwner(t *testing.T) {
	// The record is no longer this lock's: Unlock leaves it alone.
	me := selfIdent(t)
	tests := []struct {
		name    string
		content func(l *Lock) string
		replace bool // a new file, rather than the same one rewritten
	}{
		{name: "another machine took over", content: func(*Lock) string {
			return ident{1, "1", "b", "n", "elsewhere"}.record(9)
		}},
		{name: "another lock of this process", content: func(l *Lock) string { return record(l.token + 1) }},
		{name: "this process's line without lock=", content: func(*Lock) string { return me.key() + "\n" }},
		{name: "free", content: func(*Lock) string { return string(freeRecord) }},
		{name: "foreign", content: func(*Lock) string { return "12345\n" }},
		{name: "replaced by hand", content: func(*Lock) string {
			return ident{1, "1", "b", "n", "elsewhere"}.line(3)
		}, replace: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := lockPath(t)
			l := mustAcquire(t, path)
			want := tt.content(l)
			if tt.replace {
				if err := os.WriteFile(path+".new", []byte(want), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(path+".new", path); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte(want), 0o600); err != nil {
				t.Fatal(err)
			}
			mustUnlock(t, l)
			expectContent(t, path, want)
			expectNoLocks(t)
		})
	}
	t.Run("removed by hand", func(t *testing.T) {
		path := lockPath(t)
		l := mustAcquire(t, path)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		mustUnlock(t, l)
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lock file after Unlock: %v, want none (not recreated)", err)
		}
		expectNoLocks(t)
	})
}

func TestOwnerLockRace(t *testing.T) {
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprintf("stale=%v", stale), func(t *testing.T) {
			path := lockPath(t)
			for round := range 20 {
				if stale {
					// Left by something else long ago: all of them
					// try to take it over at once.
					writeAged(t, path, "12345\n", time.Now().Add(-time.Hour))
				}
				const n = 32
				var (
					wg    sync.WaitGroup
					start = make(chan struct{})
					got   = make(chan *Lock, n)
					errs  = make(chan error, n)
				)
				for range n {
					wg.Go(func() {
						<-start
						l, err := Acquire(path)
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
					if !errors.Is(err, storage.ErrInUse) {
						t.Errorf("round %d: %v", round, err)
					}
				}
				if len(got) != 1 {
					t.Fatalf("round %d: %d winners, want 1", round, len(got))
				}
				l := <-got
				expectHeld(t, path, l)
				mustUnlock(t, l)
				expectFree(t, path)
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
	var held []*Lock
	for i := range 100 {
		held = append(held, mustAcquire(t, filepath.Join(dir, fmt.Sprint(i))))
	}
	expectInUse(t, filepath.Join(dir, "0"))
	if after := countFDs(); after != before {
		t.Errorf("%d descriptors with 100 more locks held, %d before", after, before)
	}
	for _, l := range append(held, warm) {
		mustUnlock(t, l)
	}
	if after := countFDs(); after != before {
		t.Errorf("%d descriptors after release, %d before", after, before)
	}
	expectNoLocks(t)
}

func TestOwnerLockRefresh(t *testing.T) {
	saved := refreshInterval
	refreshInterval = 10 * time.Millisecond
	defer func() { refreshInterval = saved }()

	old := time.Now().Add(-time.Hour)
	mtime := func(path string) time.Time {
		t.Helper()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}

	path := lockPath(t)
	l := mustAcquire(t, path)
	// A lock whose file was replaced by a symbolic link, and one whose
	// file another owner took over: the refresher touches neither.
	dir := t.TempDir()
	linked := filepath.Join(dir, "linked.lock")
	target := filepath.Join(dir, "target")
	ll := mustAcquire(t, linked)
	writeAged(t, target, record(ll.token), old)
	if err := os.Remove(linked); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, linked); err != nil {
		t.Fatal(err)
	}
	taken := lockPath(t)
	tl := mustAcquire(t, taken)
	theirs := ident{1, "1", "b", "n", "elsewhere"}.line(1)
	writeAged(t, taken, theirs, old)

	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Since(mtime(path)) > time.Minute {
		if time.Now().After(deadline) {
			t.Fatal("the lock file was not touched")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(5 * refreshInterval) // a few more rounds
	if !mtime(target).Equal(old) {
		t.Error("the refresher followed a symbolic link")
	}
	if !mtime(taken).Equal(old) {
		t.Error("the refresher touched another owner's lock file")
	}
	for _, l := range []*Lock{l, ll, tl} {
		_ = l.Unlock()
	}
	expectContent(t, target, record(ll.token))
	expectContent(t, taken, theirs)
	expectFree(t, path)
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
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if owner, _, ok := lockowner.Parse(b); !ok || owner.PID() != h.cmd.Process.Pid || len(b) != lockRecordSize {
		t.Errorf("lock file of the helper holds %q", b)
	}
	h.stop(t) // releases it
	expectFree(t, path)
	l := mustAcquire(t, path)
	if h := startHelper(t, "hold:"+path); !strings.HasPrefix(h.said, "err "+storage.ErrInUse.Error()) {
		t.Errorf("helper took a lock this process holds: %s", h.said)
	}
	mustUnlock(t, l)

	// A holder killed with SIGKILL leaves a lock that is taken over at
	// once.
	h = startHelper(t, "hold:"+path)
	if h.said != "ok" {
		t.Fatalf("helper: %s", h.said)
	}
	expectInUse(t, path)
	h.kill(t)
	l = mustAcquire(t, path)
	expectHeld(t, path, l)
	mustUnlock(t, l)
	expectFree(t, path)
	expectNoLocks(t)
}

func TestOwnerRecord(t *testing.T) {
	id := ident{pid: 7, start: lockowner.Unknown, boot: "b", pidns: "pid:[1]", host: "my_host___"}
	want := "caddy-pop3 pid=7 start=- boot=b pidns=pid:[1] host=my_host___ lock=12\n"
	if got := id.line(12); got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	rec := string(pad([]byte("x"+strings.TrimSuffix(id.line(12), "\n")), 1))
	if wantRec := "x" + strings.TrimSuffix(want, "\n") + strings.Repeat(" ", lockRecordSize-len(want)) + "\n"; rec != wantRec {
		t.Errorf("record %q, want %q", rec, wantRec)
	}
	for _, s := range []string{id.line(12), rec[1:]} {
		back, token, ok := lockowner.Parse([]byte(s))
		if !ok || back.Line() != id.key() || token != 12 {
			t.Errorf("%q parsed back as %+v, %d, %v", s, back, token, ok)
		}
	}
	// A line too long for a record is not cut.
	long := ident{pid: 7, start: "1", boot: "b", pidns: "n", host: strings.Repeat("h", 300)}
	if rec := long.record(1); rec != long.line(1) {
		t.Errorf("long record %q, want %q", rec, long.line(1))
	}
	// This process's record is its identity line, padded.
	if got, want := record(5), selfIdent(t).record(5); got != want {
		t.Errorf("record %q, want %q", got, want)
	}
	if len(freeRecord) != lockRecordSize || !isFree(freeRecord) {
		t.Errorf("free record %q", freeRecord)
	}
}

// BenchmarkOwnerLock measures a session's lock: acquire and release. In
// "one path", one lock file over and over; in "parallel", every goroutine
// its own maildir's, as concurrent sessions of different users.
func BenchmarkOwnerLock(b *testing.B) {
	b.Run("one path", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "caddy-pop3.lock")
		b.ReportAllocs()
		for b.Loop() {
			benchCycle(b, path)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		dir := b.TempDir()
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			sub := filepath.Join(dir, fmt.Sprint(next.Add(1)))
			if err := os.Mkdir(sub, 0o700); err != nil {
				b.Error(err)
				return
			}
			path := filepath.Join(sub, "caddy-pop3.lock")
			for pb.Next() {
				benchCycle(b, path)
			}
		})
	})
}

// benchCycle takes and releases the lock at path.
func benchCycle(b *testing.B, path string) {
	l, err := Acquire(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		b.Fatal(err)
	}
}
