package maildir

import (
	"errors"

	"golang.org/x/sys/unix"
)

// isEFTYPE reports whether err is EFTYPE, NetBSD's answer to O_NOFOLLOW
// on a symbolic link.
func isEFTYPE(err error) bool { return errors.Is(err, unix.EFTYPE) }
