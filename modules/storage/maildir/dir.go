package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

var (
	// errNotDirectory means a directory of a maildir (the maildir itself,
	// cur/, new/, tmp/, or a component of its path that comes from the
	// user name) is a symbolic link or not a directory: it is refused, as
	// it could lead into another user's mail.
	errNotDirectory = errors.New("not a directory of this maildir")

	// errNoOpenat2 means openat2(2) is not available here.
	errNoOpenat2 = errors.New("openat2 is not available")

	// errNoRenameNoReplace means that a rename that never replaces is
	// not available here (see renameNoReplace).
	errNoRenameNoReplace = errors.New("rename without replacing is not available")

	// errLinkUnsupported means the file system has no hard links.
	errLinkUnsupported = errors.New("hard links are not supported")
)

// notMessage is the error for a file, in the place of a message, that is
// not a regular file: the message is gone.
func notMessage(path, kind string) error {
	return fmt.Errorf("maildir: %s is %s, not a message: %w", path, kind, storage.ErrGone)
}

// fileStat is what dir.lstat tells of a name.
type fileStat struct {
	dev, ino uint64
	regular  bool
	isDir    bool
	kind     string // "a FIFO", ...: for errors
	mtime    time.Time
	size     int64
	info     fs.FileInfo // where there is no dev/ino (see dir_other.go)
}
