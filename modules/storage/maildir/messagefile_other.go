//go:build !unix

package maildir

import (
	"io"
	"os"
)

// messageFile reads one message file (see messagefile_unix.go).
type messageFile struct {
	*os.File
}

// statSize returns -1: the size is not known here without a call.
func (f *messageFile) statSize() int64 { return -1 }

// Interface guard
var _ io.ReadCloser = (*messageFile)(nil)
