//go:build !unix

package lmtp

import "os"

// removeOpen does nothing where an open file cannot be removed (Windows):
// the spool removes the file when it closes it.
func removeOpen(*os.File) {}
