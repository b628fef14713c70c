//go:build unix

package mbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"golang.org/x/sys/unix"
)

// mboxRecord returns msg as an MTA appends it to an mbox: a From_ line,
// the message with mboxrd quoting, and an empty line.
func mboxRecord(msg []byte) []byte {
	rec := []byte("From writer@example.net  Mon Jan  1 00:00:00 2024\n")
	rec = quoteAppend(rec, msg)
	return append(rec, '\n')
}

// startWaitingWriter starts a writer in another process (this test binary,
// see TestHelperWaitingWriter) that opens spool for appending, as Python's
// open(spool, 'ab') does, then waits for one lock (fcntl, flock or
// dotlock) and appends rec. It returns once the writer has the spool open;
// wait waits for it to finish.
func startWaitingWriter(t *testing.T, spool, lock string, rec []byte) (wait func() error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWaitingWriter$")
	cmd.Env = append(os.Environ(), "MBOX_TEST_WRITER="+spool, "MBOX_TEST_WRITER_LOCK="+lock)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write(rec); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "opened\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("writer: %q, %v", line, err)
	}
	var once sync.Once
	var werr error
	wait = func() error {
		once.Do(func() { werr = cmd.Wait() })
		return werr
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = wait()
	})
	return wait
}

// TestHelperWaitingWriter is not a test: run by startWaitingWriter, it
// reads a record from stdin, opens the spool named by MBOX_TEST_WRITER
// with O_APPEND, says "opened", waits (at most a minute) for the lock
// named by MBOX_TEST_WRITER_LOCK and appends the record.
func TestHelperWaitingWriter(t *testing.T) {
	spool := os.Getenv("MBOX_TEST_WRITER")
	if spool == "" {
		t.Skip("helper process for startWaitingWriter")
	}
	rec, err := io.ReadAll(os.Stdin)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(spool, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("opened\n")
	switch lock := os.Getenv("MBOX_TEST_WRITER_LOCK"); lock {
	case "fcntl":
		// lockf(F_LOCK) in Python: a blocking POSIX write lock.
		err = unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart})
	case "flock":
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	case "dotlock":
		err = errors.New("the dotlock stayed taken for a minute")
		for range 6000 {
			lf, lerr := os.OpenFile(spool+DotlockSuffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if lerr == nil {
				fmt.Fprintf(lf, "%d\n", os.Getpid())
				lf.Close()
				defer os.Remove(spool + DotlockSuffix)
				err = nil
				break
			}
			if !errors.Is(lerr, fs.ErrExist) {
				t.Fatal(lerr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	default:
		t.Fatalf("unknown lock %q", lock)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLockingWriterWaitingDuringCommit is an MTA that takes one of the
// three locks: it opens the spool during a session, waits for the lock,
// and appends once the session has committed its deletions. Its message
// must be in the spool afterwards, whatever lock it took. (A commit that
// renamed a new spool over the old one sent the append into the unlinked
// old file.)
func TestLockingWriterWaitingDuringCommit(t *testing.T) {
	for _, lock := range []string{"fcntl", "flock", "dotlock"} {
		t.Run(lock, func(t *testing.T) {
			m, dir := newTestStore(t)
			spool := filepath.Join(dir, alice)
			want := inventory{}
			var keep [][]byte
			for i := range 4 {
				msg := numbered("kept", i, 200)
				if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
					t.Fatal(err)
				}
				if i != 1 {
					want.add(t, msg)
					keep = append(keep, msg)
				}
			}
			late := numbered("waiting-"+lock, 0, 300)
			want.add(t, late)

			md := openSession(t, m, alice)
			wait := startWaitingWriter(t, spool, lock, mboxRecord(late))
			if err := md.Commit(context.Background(), []int{1}); err != nil {
				t.Fatal(err)
			}
			if err := wait(); err != nil {
				t.Fatalf("writer: %v", err)
			}
			auditMaildrop(t, m, alice, want, nil).expectClean(t)
		})
	}
}

// TestLockIgnoringAppender is a program that ignores every lock: it keeps
// one O_APPEND descriptor of the spool open across commits and appends
// each message in two writes, the first before a session commits its
// deletions, the second after it, and more writes while the commit is
// rewriting the spool. None of its messages may be lost or damaged, and
// only the deleted ones may go. (With a commit that renamed a new spool
// into place, every second half went to the unlinked old file.)
func TestLockIgnoringAppender(t *testing.T) {
	const rounds = 30
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	want := inventory{}
	seed := numbered("seed", 0, 100)
	if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(seed)); err != nil {
		t.Fatal(err)
	}
	want.add(t, seed)

	f, err := os.OpenFile(spool, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(b []byte) {
		if _, err := f.Write(b); err != nil {
			t.Error(err)
		}
	}
	// Each round: the first half of a message before the session; its
	// second half, a whole message and the first half of a third during
	// the commit's rewrite; the second half of the third after the
	// commit.
	t.Cleanup(func() { duringRewrite = nil })
	for i := range rounds {
		var recs [3][]byte
		var halves [3]int
		for k, series := range []string{"rude-before", "rude-during", "rude-after"} {
			msg := numbered(series, i, 150)
			want.add(t, msg)
			recs[k] = mboxRecord(msg)
			halves[k] = bytes.IndexByte(recs[k], '\n') + 21
		}
		// (A delivery that honours the locks, between two halves of a
		// message of a program that does not, would land in the middle
		// of it: deliver the message to delete first.)
		filler := numbered("filler", i, 1000)
		if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(filler)); err != nil {
			t.Fatal(err)
		}
		write(recs[0][:halves[0]])

		md := openSession(t, m, alice)
		var del []int
		for j := range md.Messages() {
			rc, err := md.Open(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			if bytes.Contains(b, []byte("Message-ID: <filler-")) {
				del = append(del, j)
			}
		}
		wrote := false
		duringRewrite = func() {
			if !wrote {
				write(recs[0][halves[0]:])
				write(recs[1])
				write(recs[2][:halves[2]])
				wrote = true
			}
		}
		err := md.Commit(context.Background(), del)
		duringRewrite = nil
		if err != nil {
			t.Fatal(err)
		}
		write(recs[2][halves[2]:])
	}
	a := auditMaildrop(t, m, alice, want, nil)
	t.Logf("%d messages appended by a lock-ignoring writer across and during %d commits: %d lost, %d duplicated, %d corrupted, %d served wrongly",
		3*rounds, rounds, a.lost, a.duplicated, a.corrupted, a.wrong)
	a.expectClean(t)
}
