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

// Interface guard
var _ io.ReadCloser = (*messageFile)(nil)
