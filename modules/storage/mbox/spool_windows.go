// Windows gives mbox none of the spool locks Unix MTAs share, so the module refuses to provision there.

package mbox

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// errUnsupported is why mbox does not run on Windows.
var errUnsupported = errors.New("mbox: not supported on Windows: a spool is shared with MTAs and mail readers " +
	"through a dotlock, flock(2) and fcntl(2) locks, which Windows does not have and no Windows MTA takes " +
	"(none writes Unix mail spools); use maildir")

// platformSupported reports why this system cannot serve mbox spools.
func platformSupported() error { return errUnsupported }

// DotlockSuffix is added to a spool's path to name its dotlock (as on
// Unix; see dotlock.go).
const DotlockSuffix = ".lock"

// errBusy means that another holder has one of the spool's locks.
var errBusy = errors.New("mailbox is locked")

// spoolLock stands for the locks of a spool; Windows never has one.
type spoolLock struct {
	f *os.File
}

// lockSpool fails: there are no spool locks on Windows.
func lockSpool(string, bool) (*spoolLock, bool, error) { return nil, false, errUnsupported }

// release has nothing to release.
func (*spoolLock) release() error { return nil }

// openSpool fails: a spool is never opened without its locks.
func openSpool(string, bool) (*os.File, error) { return nil, errUnsupported }

// replayJournal fails: there is no spool to replay into.
func replayJournal(string, *os.File) (bool, error) { return false, errUnsupported }

// tempPath names the new spool a commit writes beside spool (as on Unix;
// see commit.go).
func tempPath(spool string) string {
	return filepath.Join(filepath.Dir(spool), "."+filepath.Base(spool)+".caddy-pop3.tmp")
}

// maildrop is never made on Windows: snapshot refuses first.
type maildrop struct{ storage.Maildrop }

// snapshot fails: there is no locked spool to read.
func (*Mbox) snapshot(string, *spoolEntry, *spoolLock) (*maildrop, error) {
	return nil, errUnsupported
}

// Deliver fails: a spool is never written without its locks.
func (*Mbox) Deliver(context.Context, string, storage.Envelope, io.Reader) error {
	return errUnsupported
}

// keepFresh has no dotlock to keep fresh.
func (*spoolLock) keepFresh() {}
