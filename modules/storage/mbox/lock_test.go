//go:build unix

package mbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func TestSessionHoldsEveryLock(t *testing.T) {
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	deliverNumbered(t, m, alice, 1)
	md := openSession(t, m, alice)

	if _, err := os.Stat(spool + DotlockSuffix); err != nil {
		t.Errorf("no dotlock during the session: %v", err)
	}
	f, err := os.OpenFile(spool, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("flock during the session: %v, want EWOULDBLOCK", err)
	}
	// A classic POSIX lock, as Postfix and mutt take it.
	err = unix.FcntlFlock(f.Fd(), unix.F_SETLK, &unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart})
	if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
		t.Errorf("fcntl lock during the session: %v, want EAGAIN", err)
	}

	if err := md.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spool + DotlockSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dotlock left after the session: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Errorf("flock after the session: %v", err)
	}
}

func TestOpenRespectsOtherLocks(t *testing.T) {
	tests := []struct {
		name string
		hold func(t *testing.T, spool string) (release func())
	}{
		{"live dotlock", func(t *testing.T, spool string) func() {
			if err := os.WriteFile(spool+DotlockSuffix, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return func() { os.Remove(spool + DotlockSuffix) }
		}},
		{"fresh dotlock of a dead process", func(t *testing.T, spool string) func() {
			if err := os.WriteFile(spool+DotlockSuffix, []byte(strconv.Itoa(deadPID(t))+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return func() { os.Remove(spool + DotlockSuffix) }
		}},
		{"old dotlock of a live process", func(t *testing.T, spool string) func() {
			makeStale(t, spool+DotlockSuffix, os.Getpid())
			return func() { os.Remove(spool + DotlockSuffix) }
		}},
		{"flock", func(t *testing.T, spool string) func() {
			f := openForLock(t, spool)
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			return func() { f.Close() }
		}},
		{"posix fcntl lock of another process", holdPOSIXLock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			spool := filepath.Join(dir, alice)
			m.openWait = 200 * time.Millisecond
			msgs := deliverNumbered(t, m, alice, 1)
			release := tt.hold(t, spool)

			_, err := m.Open(context.Background(), alice)
			if !errors.Is(err, storage.ErrInUse) {
				t.Fatalf("Open while locked: %v, want ErrInUse", err)
			}
			m.LockTimeout = 1 // a nanosecond: one attempt
			err = m.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader([]byte("x\n")))
			if !errors.Is(err, ErrLockTimeout) {
				t.Fatalf("Deliver while locked: %v, want ErrLockTimeout", err)
			}
			release()
			expectMessages(t, m, alice, msgs...)
		})
	}
}

// holdPOSIXLock makes another process (this test binary, see
// TestHelperLockHolder) hold a classic POSIX write lock on spool, as an MTA
// would, until the returned function is called. (Within one process, POSIX
// locks vanish as soon as the process closes any descriptor of the file.)
func holdPOSIXLock(t *testing.T, spool string) func() {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLockHolder$")
	cmd.Env = append(os.Environ(), "MBOX_TEST_HOLD_LOCK="+spool)
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		stdin.Close()
		_ = cmd.Wait()
		t.Fatalf("lock holder: %q, %v", line, err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			stdin.Close()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(release)
	return release
}

// TestHelperLockHolder is not a test: run by holdPOSIXLock, it locks the
// file named by MBOX_TEST_HOLD_LOCK, says "locked" and waits for its stdin
// to close.
func TestHelperLockHolder(t *testing.T) {
	path := os.Getenv("MBOX_TEST_HOLD_LOCK")
	if path == "" {
		t.Skip("helper process for holdPOSIXLock")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// openForLock opens spool the way another program would, to lock it.
func openForLock(t *testing.T, spool string) *os.File {
	t.Helper()
	f, err := os.OpenFile(spool, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestStaleDotlockTakenOver(t *testing.T) {
	for _, content := range []string{"dead", "empty", "garbage"} {
		t.Run(content, func(t *testing.T) {
			m, dir := newTestStore(t)
			spool := filepath.Join(dir, alice)
			msgs := deliverNumbered(t, m, alice, 1)
			makeStale(t, spool+DotlockSuffix, deadPID(t))
			switch content {
			case "empty":
				writeOld(t, spool+DotlockSuffix, "")
			case "garbage":
				writeOld(t, spool+DotlockSuffix, "locked by someone\n")
			}
			expectMessages(t, m, alice, msgs...)
		})
	}
}

// writeOld writes content to path and dates it back past StaleLockAge.
func writeOld(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * StaleLockAge)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func TestDotlockRefreshAndOwnership(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	d, err := takeDotlock(spool)
	if err != nil {
		t.Fatal(err)
	}
	if pid := dotlockPID(d.path); pid != os.Getpid() {
		t.Errorf("dotlock names pid %d, want %d", pid, os.Getpid())
	}
	old := time.Now().Add(-2 * StaleLockAge)
	if err := os.Chtimes(d.path, old, old); err != nil {
		t.Fatal(err)
	}
	d.refresh()
	if st := statOf(t, d.path); time.Since(st.ModTime()) > time.Minute {
		t.Errorf("refresh left the dotlock dated %v", st.ModTime())
	}
	if _, err := takeDotlock(spool); !errors.Is(err, errBusy) {
		t.Errorf("second takeDotlock: %v, want errBusy", err)
	}

	// Another program takes the lock over: ours must not remove theirs.
	if err := os.Remove(d.path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.path, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.path); err != nil {
		t.Errorf("remove deleted another program's dotlock: %v", err)
	}
}

func TestDeliveryWaitsForLock(t *testing.T) {
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	msgs := deliverNumbered(t, m, alice, 1)
	if err := os.WriteFile(spool+DotlockSuffix, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	late := []byte("Subject: waited\n\nbody\n")
	done := make(chan error, 1)
	go func() { done <- m.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(late)) }()
	// The delivery cannot finish while the lock is held; whether it has
	// tried yet or not, it must succeed once the lock is gone.
	select {
	case err := <-done:
		t.Fatalf("Deliver returned while the spool was locked: %v", err)
	default:
	}
	if err := os.Remove(spool + DotlockSuffix); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	expectMessages(t, m, alice, msgs[0], late)
}

func TestDeliveryHonoursContext(t *testing.T) {
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	if err := os.WriteFile(spool+DotlockSuffix, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Deliver(ctx, alice, storage.Envelope{}, bytes.NewReader([]byte("x\n"))); !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver with a canceled context: %v", err)
	}
}

// TestMTADeliveryWaitsForSession is the concurrent delivery of an MTA
// that honours the locks (Postfix's local(8)): it cannot write during the
// session, and delivers once the session has committed; nothing is lost.
func TestMTADeliveryWaitsForSession(t *testing.T) {
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	msgs := deliverNumbered(t, m, alice, 3)
	postfix := &mta{}
	late := []byte("Subject: from the MTA\n\nFrom me\n")

	md := openSession(t, m, alice)
	if err := postfix.deliver(spool, late); !errors.Is(err, errMTALocked) {
		t.Fatalf("MTA delivery during the session: %v, want it locked out", err)
	}
	if err := md.Commit(context.Background(), []int{1}); err != nil {
		t.Fatal(err)
	}
	if err := postfix.deliver(spool, late); err != nil {
		t.Fatalf("MTA delivery after the session: %v", err)
	}
	expectMessages(t, m, alice, msgs[0], msgs[2], late)
}

// TestAppendIgnoringLocks is an MTA that ignores the locks and appends
// during the session: its mail survives the commit.
func TestAppendIgnoringLocks(t *testing.T) {
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	msgs := deliverNumbered(t, m, alice, 3)
	md := openSession(t, m, alice)

	f, err := os.OpenFile(spool, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw := "From rude@example.net Mon Jan  1 00:00:00 2024\nSubject: rude\n\n>From me\n\n"
	if _, err := f.WriteString(raw); err != nil {
		t.Fatal(err)
	}
	f.Close()

	if err := md.Commit(context.Background(), []int{0, 2}); err != nil {
		t.Fatal(err)
	}
	expectMessages(t, m, alice, msgs[1], []byte("Subject: rude\n\nFrom me\n"))
}

func TestDeliveryDuringSessionOfThisProcess(t *testing.T) {
	m, _ := newTestStore(t)
	msgs := deliverNumbered(t, m, alice, 2)
	md := openSession(t, m, alice)
	late := deliverNumbered(t, m, alice, 1)[0] // under the session's lock
	if n := len(md.Messages()); n != 2 {
		t.Errorf("the session sees %d messages, want 2", n)
	}
	if err := md.Commit(context.Background(), []int{0}); err != nil {
		t.Fatal(err)
	}
	expectMessages(t, m, alice, msgs[1], late)
}

func TestRefusedSpools(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, spool string)
	}{
		{"symbolic link", func(t *testing.T, spool string) {
			target := filepath.Join(filepath.Dir(spool), "secret")
			if err := os.WriteFile(target, []byte("From x Mon Jan  1 00:00:00 2024\nsecret\n\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, spool); err != nil {
				t.Fatal(err)
			}
		}},
		{"hard link", func(t *testing.T, spool string) {
			target := filepath.Join(filepath.Dir(spool), "secret")
			if err := os.WriteFile(target, []byte("From x Mon Jan  1 00:00:00 2024\nsecret\n\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(target, spool); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", func(t *testing.T, spool string) {
			if err := os.Mkdir(spool, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			spool := filepath.Join(dir, alice)
			tt.setup(t, spool)
			if md, err := m.Open(context.Background(), alice); err == nil {
				md.Close()
				t.Error("Open succeeded")
			}
			if err := m.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader([]byte("x\n"))); err == nil {
				t.Error("Deliver succeeded")
			}
			if _, err := os.Stat(spool + DotlockSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dotlock left behind: %v", err)
			}
		})
	}
}

func TestUserNamedLikeALock(t *testing.T) {
	m, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := m.Open(ctx, "alice.lock"); !errors.Is(err, storage.ErrInvalidUser) {
		t.Errorf("Open: %v, want ErrInvalidUser", err)
	}
	if err := m.Deliver(ctx, "alice.lock", storage.Envelope{}, bytes.NewReader([]byte("x\n"))); !errors.Is(err, storage.ErrInvalidUser) {
		t.Errorf("Deliver: %v, want ErrInvalidUser", err)
	}
}
