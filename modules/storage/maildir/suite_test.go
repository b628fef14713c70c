package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/storagetest"
)

// newTestStore returns a Maildir whose users' maildirs are
// <dir>/<user>/Maildir, and dir.
func newTestStore(t testing.TB) (*Maildir, string) {
	dir := t.TempDir()
	return &Maildir{Path: filepath.Join(dir, storage.PlaceholderUser, "Maildir")}, dir
}

// writeMaildirFile puts content in maildir/sub/name through tmp/, as an MTA
// would, creating the maildir if needed.
func writeMaildirFile(t testing.TB, maildir, sub, name string, content []byte) string {
	t.Helper()
	for _, d := range []string{dirCur, dirNew, dirTmp} {
		if err := os.MkdirAll(filepath.Join(maildir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(maildir, dirTmp, name)
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(maildir, sub, name)
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// findMessage returns the path of the message file with the given UIDL in
// the maildir, or fails the test.
func findMessage(t *testing.T, maildir, uid string) string {
	t.Helper()
	for _, sub := range []string{dirCur, dirNew} {
		entries, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && uidFor(baseOf(e.Name())) == uid {
				return filepath.Join(maildir, sub, e.Name())
			}
		}
	}
	t.Fatalf("no message with UIDL %q", uid)
	return ""
}

func TestSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Fixture {
		m, dir := newTestStore(t)
		userDir := func(user string) string { return filepath.Join(dir, user, "Maildir") }
		var postfixCount atomic.Int64
		return storagetest.Fixture{
			Store: m,
			// Postfix's local(8)/virtual(8) name: <sec>.V<dev>I<ino>M<usec>.<host>,
			// no size in the name.
			DeliverExternal: func(t *testing.T, user string, msg []byte) {
				n := postfixCount.Add(1)
				name := fmt.Sprintf("%d.V801I%xM%d.mx.example.net", 1700000000+n, 0x3a00+n, 100000+n)
				writeMaildirFile(t, userDir(user), dirNew, name, msg)
			},
			Remove: func(t *testing.T, user, uid string) {
				if err := os.Remove(findMessage(t, userDir(user), uid)); err != nil {
					t.Fatal(err)
				}
			},
			Replace: replaceHook(userDir),
			// A crash after the first unlink: the lock goes away with the
			// process, nothing else happens.
			CrashCommit: func(t *testing.T, sm storage.Maildrop, deleted []int) {
				md := sm.(*maildrop)
				if err := os.Remove(md.path(md.files[deleted[0]])); err != nil {
					t.Fatal(err)
				}
				if err := md.lock.Unlock(); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}
