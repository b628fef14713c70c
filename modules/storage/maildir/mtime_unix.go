//go:build unix

package maildir

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// setMtime sets the access and modification times of the open file f to
// t, through its descriptor (no path is followed).
func setMtime(f *os.File, t time.Time) error {
	tv := unix.NsecToTimeval(t.UnixNano())
	return unix.Futimes(int(f.Fd()), []unix.Timeval{tv, tv})
}
