//go:build unix

package lmtp

import "os"

// removeOpen unlinks a spool file that is open: its space is freed when
// the session closes it, or when the process dies, whatever happens.
func removeOpen(f *os.File) { _ = os.Remove(f.Name()) }
