package maildir

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// descriptorsUnder counts this process's open descriptors of files and
// directories under dir (from /proc/self/fd), so that other tests running
// at the same time do not count.
func descriptorsUnder(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && (target == dir || strings.HasPrefix(target, dir+"/")) {
			n++
		}
	}
	return n
}

// readMessage returns the content of message i of md.
func readMessage(t *testing.T, md interface {
	Open(context.Context, int) (io.ReadCloser, error)
}, i int) ([]byte, error) {
	t.Helper()
	rc, err := md.Open(context.Background(), i)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// parkNow parks md's directories as its timer does once they have not
// been used for parkAfter.
func parkNow(md *maildrop) {
	md.park.mu.Lock()
	md.park.lastUse = time.Now().Add(-parkAfter)
	md.park.mu.Unlock()
	md.parkIfIdle()
}

// TestIdleSessionHoldsNoDescriptor checks that a logged-in session holds
// no descriptor of its maildir once the login is done, opens its
// directories again to read and delete, and lets them go again when it
// has not used them for a while; nothing is lost or served wrongly on the
// way.
func TestIdleSessionHoldsNoDescriptor(t *testing.T) {
	m, alice, _, mail := twoUsers(t, 3)
	sm, err := m.Open(context.Background(), aliceUser)
	if err != nil {
		t.Fatal(err)
	}
	md := sm.(*maildrop)
	defer md.Close()
	if n := descriptorsUnder(t, alice); n != 0 {
		t.Fatalf("after the login: %d descriptors of the maildir open, want 0", n)
	}
	for i := range md.Messages() {
		b, err := readMessage(t, md, i)
		if err != nil || !bytes.Equal(b, mail[aliceUser+fmt.Sprint(i)]) {
			t.Fatalf("message %d: %q, %v", i, b, err)
		}
	}
	if n := descriptorsUnder(t, alice); n != 3 {
		t.Errorf("while in use: %d descriptors of the maildir open, want 3 (the maildir, cur/, new/)", n)
	}
	parkNow(md)
	if n := descriptorsUnder(t, alice); n != 0 {
		t.Errorf("after a pause: %d descriptors of the maildir open, want 0", n)
	}
	before := contentsOf(t, alice)
	if err := md.Commit(context.Background(), []int{1}); err != nil {
		t.Fatal(err)
	}
	after := contentsOf(t, alice)
	if len(after) != len(before)-1 {
		t.Errorf("after deleting message 2 of %d: %d left", len(before), len(after))
	}
	for name, content := range after {
		if before[name] != content || content == string(mail[aliceUser+"1"]) {
			t.Errorf("after deleting message 2: %s holds %q", name, content)
		}
	}
	if n := descriptorsUnder(t, alice); n != 0 {
		t.Errorf("after QUIT: %d descriptors of the maildir open, want 0", n)
	}
}

// TestDirectoryReplacedWhileParked replaces alice's cur/ (or her whole
// maildir) by another directory, holding files under the names of her
// messages, while her session holds no descriptor: the session must read
// and delete nothing in it.
func TestDirectoryReplacedWhileParked(t *testing.T) {
	for _, sub := range []string{dirCur, dirNew, ""} {
		name := sub
		if name == "" {
			name = "maildir"
		}
		t.Run(name, func(t *testing.T) {
			m, alice, _, mail := twoUsers(t, 3)
			sm, err := m.Open(context.Background(), aliceUser)
			if err != nil {
				t.Fatal(err)
			}
			md := sm.(*maildrop)
			aliceBefore := contentsOf(t, alice)
			// The impostor: a copy of the directory, every file
			// rewritten.
			orig := filepath.Join(alice, sub)
			moved := filepath.Join(filepath.Dir(alice), "moved-"+name)
			if err := os.Rename(orig, moved); err != nil {
				t.Fatal(err)
			}
			fakes := map[string]string{}
			for _, d := range []string{dirCur, dirNew, dirTmp} {
				if err := os.MkdirAll(filepath.Join(alice, d), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for name := range aliceBefore {
				rel := strings.TrimPrefix(name, sub+"/")
				if sub == "" || rel != name {
					fake := "Subject: not alice's " + name + "\n\nimpostor\n"
					if err := os.WriteFile(filepath.Join(orig, rel), []byte(fake), 0o600); err != nil {
						t.Fatal(err)
					}
					fakes[name] = fake
				}
			}
			fakesBefore := contentsOf(t, alice)
			var all []int
			for i := range md.Messages() {
				all = append(all, i)
				b, err := readMessage(t, md, i)
				if err == nil && !bytes.Equal(b, mail[aliceUser+fmt.Sprint(i)]) {
					t.Errorf("message %d after the swap: %q, want alice's or an error", i, b)
				}
			}
			_ = md.Commit(context.Background(), all)
			expectUnchanged(t, "the impostor", alice, fakesBefore)
			if sub == "" {
				expectUnchanged(t, "alice", moved, aliceBefore)
			}
		})
	}
}

// TestDirSessionBudget checks that a session over the budget of sessions
// with open directories (here 1) still reads and deletes its mail, and
// holds no descriptor of its maildir between operations, while the
// session within the budget keeps its directories open; the budget is
// given back when the sessions end.
func TestDirSessionBudget(t *testing.T) {
	saved := dirSessionBudget
	defer func() { dirSessionBudget = saved }()
	start := openDirSessions.Load()
	m, alice, bob, mail := twoUsers(t, 3)
	open := func(user string) *maildrop {
		sm, err := m.Open(context.Background(), user)
		if err != nil {
			t.Fatal(err)
		}
		return sm.(*maildrop)
	}
	a, b := open(aliceUser), open(bobUser)
	dirSessionBudget = func() int64 { return start + 1 } // room for one
	for _, s := range []struct {
		md   *maildrop
		user string
		dir  string
		held int
	}{{a, aliceUser, alice, 3}, {b, bobUser, bob, 0}} {
		for i := range s.md.Messages() {
			got, err := readMessage(t, s.md, i)
			if err != nil || !bytes.Equal(got, mail[s.user+fmt.Sprint(i)]) {
				t.Fatalf("%s's message %d: %q, %v", s.user, i, got, err)
			}
		}
		if n := descriptorsUnder(t, s.dir); n != s.held {
			t.Errorf("%s after reading: %d descriptors of the maildir open, want %d", s.user, n, s.held)
		}
	}
	aliceBefore, before := contentsOf(t, alice), contentsOf(t, bob)
	if err := b.Commit(context.Background(), []int{0}); err != nil {
		t.Fatalf("bob's Commit over the budget: %v", err)
	}
	// Inventory: bob lost exactly his message 1, every other file of both
	// users is as it was.
	after := contentsOf(t, bob)
	if len(after) != len(before)-1 {
		t.Errorf("bob's deletion over the budget: %d messages left of %d", len(after), len(before))
	}
	for name, content := range after {
		if before[name] != content || content == string(mail[bobUser+"0"]) {
			t.Errorf("after deleting bob's message 1: %s holds %q", name, content)
		}
	}
	if got := contentsOf(t, alice); !maps.Equal(got, aliceBefore) {
		t.Errorf("alice's maildir changed by bob's session: %v", got)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := openDirSessions.Load(); n != start {
		t.Errorf("after both sessions ended: %d sessions counted, want %d", n, start)
	}
}
