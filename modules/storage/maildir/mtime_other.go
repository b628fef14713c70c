//go:build !unix

package maildir

import (
	"os"
	"time"
)

// setMtime sets the access and modification times of the file f, just
// created in tmp/, to t.
func setMtime(f *os.File, t time.Time) error {
	return os.Chtimes(f.Name(), t, t)
}
