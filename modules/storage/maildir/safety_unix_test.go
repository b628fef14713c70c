//go:build unix

package maildir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Users of the symlink tests: alice attacks, bob's mail must stay his.
const (
	aliceUser = "alice@example.com"
	bobUser   = "bob@example.com"
)

// twoUsers returns a store with alice's and bob's maildirs, each holding
// n messages (delivered through the store), and the maildir paths.
func twoUsers(t *testing.T, n int) (m *Maildir, alice, bob string, mail map[string][]byte) {
	t.Helper()
	m, dir := newTestStore(t)
	mail = map[string][]byte{}
	for _, u := range []string{aliceUser, bobUser} {
		for i := range n {
			msg := fmt.Appendf(nil, "Message-ID: <%d.%s>\nSubject: %s %d\n\nmail of %s\n", i, u, u, i, u)
			if err := m.Deliver(context.Background(), u, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
				t.Fatal(err)
			}
			mail[u+fmt.Sprint(i)] = msg
		}
		md, err := m.Open(context.Background(), u) // moves new/ into cur/
		if err != nil {
			t.Fatal(err)
		}
		md.Close()
	}
	return m, filepath.Join(dir, aliceUser, "Maildir"), filepath.Join(dir, bobUser, "Maildir"), mail
}

// contentsOf returns the contents of the regular files in maildir's cur/
// and new/, by name.
func contentsOf(t *testing.T, maildir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range []string{dirCur, dirNew} {
		entries, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(maildir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[sub+"/"+e.Name()] = string(b)
		}
	}
	return out
}

// expectUnchanged fails the test unless maildir holds exactly before.
func expectUnchanged(t *testing.T, who, maildir string, before map[string]string) {
	t.Helper()
	after := contentsOf(t, maildir)
	for name, content := range before {
		if got, ok := after[name]; !ok {
			t.Errorf("%s's message %s was deleted", who, name)
		} else if got != content {
			t.Errorf("%s's message %s changed to %q", who, name, got)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s has a new file %s", who, name)
		}
	}
}

// TestSymlinkedDirectoriesRefused makes alice's maildir, or its cur/, new/
// or tmp/, a symbolic link to bob's: logging in and delivering as alice
// must fail, and bob's mail must be neither read nor changed.
func TestSymlinkedDirectoriesRefused(t *testing.T) {
	for _, sub := range []string{"", dirCur, dirNew, dirTmp} {
		name := sub
		if name == "" {
			name = "maildir"
		}
		t.Run(name, func(t *testing.T) {
			m, alice, bob, _ := twoUsers(t, 2)
			if err := os.RemoveAll(filepath.Join(alice, sub)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(bob, sub), filepath.Join(alice, sub)); err != nil {
				t.Fatal(err)
			}
			bobBefore := contentsOf(t, bob)
			// A file a killed delivery left in bob's tmp/: alice's login
			// must not clean it up through her link.
			bobTmp := filepath.Join(bob, dirTmp, "1600000000.M1P1.left")
			if err := os.WriteFile(bobTmp, []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-48 * time.Hour)
			if err := os.Chtimes(bobTmp, old, old); err != nil {
				t.Fatal(err)
			}
			forgetTmpCleanup(alice)
			md, err := m.Open(context.Background(), aliceUser)
			if err == nil && sub == dirTmp {
				// tmp/ is not needed to read mail: the login works,
				// deliveries refuse it, and cleanup leaves it alone.
				if n := len(md.Messages()); n != 2 {
					t.Errorf("alice has %d messages, want her 2", n)
				}
				md.Close()
			} else if err == nil {
				for i := range md.Messages() {
					if rc, err := md.Open(context.Background(), i); err == nil {
						b, _ := io.ReadAll(rc)
						rc.Close()
						if bytes.Contains(b, []byte(bobUser)) {
							t.Errorf("alice was served bob's message %q", b)
						}
					}
				}
				all := make([]int, len(md.Messages()))
				for i := range all {
					all[i] = i
				}
				_ = md.Commit(context.Background(), all)
				t.Errorf("login through a symlinked %s succeeded (%d messages)", name, len(all))
			} else if errors.Is(err, storage.ErrInUse) {
				t.Errorf("login through a symlinked %s: %v, want a refusal, not [IN-USE]", name, err)
			}
			err = m.Deliver(context.Background(), aliceUser, storage.Envelope{}, strings.NewReader("Subject: to alice\n\nx\n"))
			if err == nil {
				t.Errorf("delivery through a symlinked %s succeeded", name)
			}
			expectUnchanged(t, "bob", bob, bobBefore)
			if entries, _ := os.ReadDir(filepath.Join(bob, dirTmp)); len(entries) != 1 {
				t.Errorf("bob's tmp/ has %d files, want the 1 left there", len(entries))
			}
		})
	}
}

// TestDirectorySwappedAfterLogin replaces alice's cur/ (or the whole
// maildir) by a symbolic link to bob's after she logged in, with bob's
// messages renamed to the names of alice's: her session must still read
// and delete only her own messages.
func TestDirectorySwappedAfterLogin(t *testing.T) {
	for _, sub := range []string{dirCur, ""} {
		name := sub
		if name == "" {
			name = "maildir"
		}
		t.Run(name, func(t *testing.T) {
			m, alice, bob, mail := twoUsers(t, 3)
			md, err := m.Open(context.Background(), aliceUser)
			if err != nil {
				t.Fatal(err)
			}
			// Bob's files get the names of alice's, so that a path
			// lookup through the link would find them.
			aliceNames, _ := os.ReadDir(filepath.Join(alice, dirCur))
			bobNames, _ := os.ReadDir(filepath.Join(bob, dirCur))
			for i, e := range bobNames {
				if err := os.Rename(filepath.Join(bob, dirCur, e.Name()), filepath.Join(bob, dirCur, aliceNames[i].Name())); err != nil {
					t.Fatal(err)
				}
			}
			bobBefore := contentsOf(t, bob)
			moved := filepath.Join(filepath.Dir(alice), "moved-"+name)
			if err := os.Rename(filepath.Join(alice, sub), moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(bob, sub), filepath.Join(alice, sub)); err != nil {
				t.Fatal(err)
			}
			var all []int
			for i := range md.Messages() {
				all = append(all, i)
				rc, err := md.Open(context.Background(), i)
				if err != nil {
					continue // refusing is fine; serving bob's mail is not
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				if !bytes.Equal(b, mail[aliceUser+fmt.Sprint(i)]) {
					t.Errorf("message %d after the swap: %q, want alice's", i, b)
				}
			}
			_ = md.Commit(context.Background(), all)
			expectUnchanged(t, "bob", bob, bobBefore)
		})
	}
}

// TestTmpCleanup checks that a login removes the files left in tmp/ for
// more than 36 hours (by killed deliveries), and nothing else: not a
// fresh file, not a directory, not a symbolic link's target.
func TestTmpCleanup(t *testing.T) {
	m, dir := newTestStore(t)
	maildir := filepath.Join(dir, aliceUser, "Maildir")
	writeMaildirFile(t, maildir, dirNew, "1700000000.M1P1.host", []byte("Subject: kept\n\nx\n"))
	tmp := filepath.Join(maildir, dirTmp)
	old := time.Now().Add(-37 * time.Hour)
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("not mail"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{ // name -> kept
		"old-partial": false, "old-partial-2": false, "fresh-delivery": true,
		"old-dir": true, "old-link": false,
	}
	for name := range files {
		p := filepath.Join(tmp, name)
		var err error
		switch name {
		case "old-dir":
			err = os.Mkdir(p, 0o700)
		case "old-link":
			err = os.Symlink(target, p)
		default:
			err = os.WriteFile(p, []byte("partial message"), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "old") {
			ts := []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				t.Fatal(err)
			}
		}
	}
	md, err := m.Open(context.Background(), aliceUser)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
	md.Close()
	for name, kept := range files {
		_, err := os.Lstat(filepath.Join(tmp, name))
		if exists := err == nil; exists != kept {
			t.Errorf("tmp/%s: exists %v after login, want %v", name, exists, kept)
		}
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "not mail" {
		t.Errorf("the target of a symbolic link in tmp/ changed: %q, %v", b, err)
	}
}

// TestTmpCleanupBounded checks that one login removes at most
// maxTmpCleanup files, and that later logins finish the job.
func TestTmpCleanupBounded(t *testing.T) {
	m, dir := newTestStore(t)
	maildir := filepath.Join(dir, aliceUser, "Maildir")
	if err := makeMaildir(maildir); err != nil {
		t.Fatal(err)
	}
	n := maxTmpCleanup + maxTmpCleanup/2
	old := time.Now().Add(-48 * time.Hour)
	for i := range n {
		p := filepath.Join(maildir, dirTmp, fmt.Sprint("partial-", i))
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	left := func() int {
		entries, err := os.ReadDir(filepath.Join(maildir, dirTmp))
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	for login, want := range []int{n - maxTmpCleanup, 0} {
		forgetTmpCleanup(maildir)
		md, err := m.Open(context.Background(), aliceUser)
		if err != nil {
			t.Fatal(err)
		}
		md.Close()
		if got := left(); got != want {
			t.Errorf("after login %d: %d files in tmp/, want %d", login+1, got, want)
		}
	}
}
