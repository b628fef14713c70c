//go:build unix

package mbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/storagetest"
)

// crashInPlace simulates the death of the process that holds md in the
// middle of an in-place commit: the journal is committed and the first
// steps of applying it are done.
func crashInPlace(t testing.TB, md *maildrop, deleted []int, steps int) {
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
	tmp, err := writeSpool(md.path, src, lay, drop)
	if err != nil {
		t.Fatalf("writeSpool: %v", err)
	}
	j, err := commitJournal(md.path, tmp, src, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if err := j.apply(src, steps); err != nil {
		t.Fatal(err)
	}
	dieHolding(t, md)
}

// dieHolding releases md the way the kernel does when its process dies
// (see crash), leaving a stale dotlock.
func dieHolding(t testing.TB, md *maildrop) {
	t.Helper()
	md.lock.stopRefresh()
	if err := md.lock.f.Close(); err != nil {
		t.Fatal(err)
	}
	if md.lock.dot != nil {
		md.lock.dot.f.Close() // the kernel drops the dotlock's flock too
	}
	makeStale(t, md.path+DotlockSuffix, deadPID(t))
	md.entry.mu.Lock()
	md.entry.session = nil
	md.closed = true
	md.entry.mu.Unlock()
	spools.release(md.path, md.entry)
}

func TestSuiteInPlace(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Fixture {
		m, dir := newTestStore(t)
		return storagetest.Fixture{
			Store: m,
			Remove: func(t *testing.T, user, uid string) {
				rewriteWithout(t, filepath.Join(dir, user), uid)
			},
			CrashCommit: func(t *testing.T, md storage.Maildrop, deleted []int) {
				crashInPlace(t, md.(*maildrop), deleted, 1)
			},
		}
	})
}

func TestInPlaceKeepsInode(t *testing.T) {
	m, dir := newTestStore(t)
	msgs := deliverNumbered(t, m, alice, 3)
	spool := filepath.Join(dir, alice)
	before := statOf(t, spool)

	commit(t, m, alice, 1)
	after := statOf(t, spool)
	if !os.SameFile(before, after) {
		t.Error("an in-place commit replaced the spool file")
	}
	expectMessages(t, m, alice, msgs[0], msgs[2])
	for _, p := range []string{journalPath(spool), tempPath(spool)} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
}

func TestInPlaceCrashRecovery(t *testing.T) {
	tests := []struct {
		name  string
		steps int  // steps of the journal applied before the crash
		late  bool // an MTA delivers after the crash, before the next session
	}{
		{"journal committed", 0, false},
		{"journal committed, late mail", 0, true},
		{"spool rewritten", 1, false},
		{"spool rewritten, late mail", 1, true},
		{"spool truncated", 2, false},
		{"spool truncated, late mail", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			spool := filepath.Join(dir, alice)
			msgs := deliverNumbered(t, m, alice, 4)
			md := openSession(t, m, alice)
			crashInPlace(t, md, []int{0, 2}, tt.steps)

			want := [][]byte{msgs[1], msgs[3]}
			if tt.late {
				// The MTA takes the stale dotlock over, as Postfix would.
				if !breakStale(spool + DotlockSuffix) {
					t.Fatal("the dead session's dotlock is not stale")
				}
				late := []byte("Subject: late\n\ndelivered after the crash\n")
				if err := (&mta{}).deliver(spool, late); err != nil {
					t.Fatal(err)
				}
				want = append(want, late)
			}
			expectMessages(t, m, alice, want...)
			if _, err := os.Lstat(journalPath(spool)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the journal is still there: %v", err)
			}
		})
	}
}

func TestDamagedJournalRefusesSession(t *testing.T) {
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	deliverNumbered(t, m, alice, 2)
	if err := os.WriteFile(journalPath(spool), []byte("kept mail\ncaddy-pop3 journal 10 999 00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if md, err := m.Open(context.Background(), alice); err == nil {
		md.Close()
		t.Fatal("Open succeeded with a damaged journal")
	} else if errors.Is(err, storage.ErrInUse) {
		t.Fatalf("Open: %v, want an error about the journal", err)
	}
	if _, err := os.Stat(journalPath(spool)); err != nil {
		t.Errorf("the damaged journal was removed: %v", err)
	}
}

// deliverNumbered delivers n distinct messages to user through m and
// returns them.
func deliverNumbered(t testing.TB, m *Mbox, user string, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range n {
		msg := fmt.Appendf(nil, "From: a@example.net\nSubject: %d\n\nFrom the body of %d\n>From quoted\n", i, i)
		if err := m.Deliver(context.Background(), user, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		out = append(out, msg)
	}
	return out
}

// openSession opens user's maildrop.
func openSession(t testing.TB, m *Mbox, user string) *maildrop {
	t.Helper()
	md, err := m.Open(context.Background(), user)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return md.(*maildrop)
}

// commit opens user's maildrop and commits the deletion of the messages
// at the given indexes.
func commit(t testing.TB, m *Mbox, user string, deleted ...int) {
	t.Helper()
	if err := openSession(t, m, user).Commit(context.Background(), deleted); err != nil {
		t.Fatalf("Commit(%v): %v", deleted, err)
	}
}

// contents returns the messages of user's maildrop.
func contents(t testing.TB, m *Mbox, user string) ([]storage.Message, [][]byte) {
	t.Helper()
	md := openSession(t, m, user)
	defer md.Close()
	var out [][]byte
	for i := range md.Messages() {
		rc, err := md.Open(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return md.Messages(), out
}

// expectMessages fails the test unless user's maildrop holds exactly want.
func expectMessages(t testing.TB, m *Mbox, user string, want ...[]byte) {
	t.Helper()
	msgs, got := contents(t, m, user)
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d:\ngot  %q\nwant %q", len(got), len(want), got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("message %d: %q, want %q", i, got[i], want[i])
		}
		if msgs[i].Size != storage.WireSize(want[i]) {
			t.Errorf("message %d: size %d, want %d", i, msgs[i].Size, storage.WireSize(want[i]))
		}
	}
}

// statOf stats path.
func statOf(t testing.TB, path string) fs.FileInfo {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
