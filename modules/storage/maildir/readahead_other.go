// Elsewhere read-ahead is left to the kernel's defaults.

//go:build unix && !linux

package maildir

// adviseSequential does nothing here (see readahead_linux.go).
func adviseSequential(int, int64) {}
