//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package pop3

// processOpenFileLimit reports that there is no open-file limit to read
// (Windows has no RLIMIT_NOFILE): max_connections defaults to
// DefaultMaxConnections.
func processOpenFileLimit() (uint64, bool) {
	return 0, false
}
