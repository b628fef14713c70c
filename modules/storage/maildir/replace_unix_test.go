//go:build unix

package maildir

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/caddy-pop3/caddy-pop3/modules/storage/storagetest"
)

// replaceHook returns the suite's Replace hook for maildirs under
// userDir: it removes the message's file and puts the non-message under
// the same name.
func replaceHook(userDir func(string) string) func(*testing.T, string, string, storagetest.NonMessage, string) {
	return func(t *testing.T, user, uid string, kind storagetest.NonMessage, target string) {
		path := findMessage(t, userDir(user), uid)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		var err error
		switch kind {
		case storagetest.Symlink:
			err = os.Symlink(target, path)
		case storagetest.FIFO:
			err = unix.Mkfifo(path, 0o600)
		case storagetest.Directory:
			err = os.Mkdir(path, 0o700)
		default:
			t.Skipf("no %s in a maildir", kind)
		}
		if err != nil {
			t.Fatalf("putting a %s at %s: %v", kind, filepath.Base(path), err)
		}
	}
}
