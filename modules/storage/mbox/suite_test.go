//go:build unix

package mbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/storagetest"
)

// The user most tests deliver to.
const alice = "alice@example.com"

// newTestStore returns an Mbox whose users' spools are <dir>/<user>, and
// dir. Sessions a test leaves open are closed when it ends.
func newTestStore(t testing.TB) (*Mbox, string) {
	dir := t.TempDir()
	t.Cleanup(func() { closeLeftSessions(dir) })
	return &Mbox{Path: filepath.Join(dir, storage.PlaceholderUser)}, dir
}

// closeLeftSessions closes the sessions of this process on spools under
// dir (a test that skipped or failed in the middle of a session).
func closeLeftSessions(dir string) {
	spools.mu.Lock()
	var left []*maildrop
	for path, e := range spools.entries {
		if strings.HasPrefix(path, dir+string(filepath.Separator)) {
			e.mu.Lock()
			if e.session != nil {
				left = append(left, e.session)
			}
			e.mu.Unlock()
		}
	}
	spools.mu.Unlock()
	for _, md := range left {
		_ = md.Close()
	}
}

// mta delivers to spools the way Postfix's local(8) does: it takes the
// dotlock and a classic POSIX fcntl lock, appends a From_ line with two
// spaces before the date, the message with its "From " lines quoted, and
// an empty line. Every delivery gets a date one second later than the
// previous one.
type mta struct {
	clock atomic.Int64
}

// errMTALocked means the MTA found the spool locked.
var errMTALocked = errors.New("mailbox is locked")

// deliver appends msg to spool once, without waiting for locks.
func (a *mta) deliver(spool string, msg []byte) error {
	lock := spool + DotlockSuffix
	lf, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return errMTALocked
	}
	if err != nil {
		return err
	}
	lf.Close()
	defer os.Remove(lock)

	f, err := os.OpenFile(spool, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	err = unix.FcntlFlock(f.Fd(), unix.F_SETLK, &unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart})
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
		return errMTALocked
	}
	if err != nil {
		return err
	}
	date := time.Unix(1_700_000_000+a.clock.Add(1), 0).UTC().Format(time.ANSIC)
	var b bytes.Buffer
	fmt.Fprintf(&b, "From sender@example.net  %s\n", date)
	for _, line := range bytes.SplitAfter(msg, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
			b.WriteByte('>')
		}
		b.Write(line)
	}
	if len(msg) > 0 && msg[len(msg)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	if _, err := f.Write(b.Bytes()); err != nil {
		return err
	}
	return f.Sync()
}

// rewriteWithout removes the message with the given UIDL from spool the
// way a program that ignores the locks would: it writes the other
// messages to a new file and renames it over the spool.
func rewriteWithout(t testing.TB, spool, uid string) {
	t.Helper()
	f, err := os.Open(spool)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	lay, err := scanLayout(io.NewSectionReader(f, 0, st.Size()), testSpoolKey(t, spool))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := readUIDList(spool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := describe(f, &lay, saved, defaultUIDLFormat); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	found := false
	_, _ = io.Copy(&out, io.NewSectionReader(f, 0, lay.preamble))
	for _, m := range lay.msgs {
		if m.uid == uid {
			found = true
			continue
		}
		_, _ = io.Copy(&out, io.NewSectionReader(f, m.start, m.end-m.start))
	}
	if !found {
		t.Fatalf("no message with UIDL %q in %s", uid, spool)
	}
	tmp := spool + ".other-program"
	if err := os.WriteFile(tmp, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, spool); err != nil {
		t.Fatal(err)
	}
}

// deadPID returns the id of a process that has exited.
func deadPID(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("running true: %v", err)
	}
	return cmd.Process.Pid
}

// crash simulates the death of the process that holds md in the middle of
// a commit, after the new content was written to the temporary file and before it
// became the journal: the
// kernel drops the flock and fcntl locks, the dotlock stays behind with
// the dead process's id, and StaleLockAge later it is stale.
func crash(t testing.TB, md *maildrop, deleted []int) {
	t.Helper()
	src := md.lock.f
	st, err := src.Stat()
	if err != nil {
		t.Fatal(err)
	}
	lay, err := scanLayout(io.NewSectionReader(src, 0, st.Size()), md.key)
	if err != nil {
		t.Fatal(err)
	}
	drop := make(map[int]bool)
	for _, i := range deleted {
		drop[i] = true
	}
	if _, err := writeSpool(md.path, src, lay, drop); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tempPath(md.path)); err != nil {
		t.Fatalf("the new spool was not written: %v", err)
	}

	dieHolding(t, md)
}

// makeStale makes the dotlock at path look like one left by the process
// pid more than StaleLockAge ago.
func makeStale(t testing.TB, path string, pid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-StaleLockAge - time.Minute)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func TestSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Fixture {
		m, dir := newTestStore(t)
		spool := func(user string) string { return filepath.Join(dir, user) }
		postfix := &mta{}
		return storagetest.Fixture{
			Store: m,
			DeliverExternal: func(t *testing.T, user string, msg []byte) {
				if len(msg) > 0 && msg[len(msg)-1] != '\n' {
					t.Skip("an MTA cannot store a message without a final line ending in an mbox: it adds one (TestExternalMessages covers external delivery)")
				}
				err := postfix.deliver(spool(user), msg)
				if errors.Is(err, errMTALocked) {
					t.Skip("the spool is locked by a session: an MTA that honours the lock waits until the session ends (TestMTADeliveryWaitsForSession)")
				}
				if err != nil {
					t.Fatalf("MTA delivery: %v", err)
				}
			},
			Remove: func(t *testing.T, user, uid string) {
				rewriteWithout(t, spool(user), uid)
			},
			CrashCommit: func(t *testing.T, md storage.Maildrop, deleted []int) {
				crash(t, md.(*maildrop), deleted)
			},
		}
	})
}
