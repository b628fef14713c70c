package pop3

import "fmt"

// The open-file limit (RLIMIT_NOFILE) bounds max_connections: a process
// out of file descriptors fails every accept with EMFILE, and caddy-l4
// v0.1.2's accept loop stops for good on that error, so the POP3 port
// (and every other port that had a connection during the flood) stays
// dead until Caddy restarts. max_connections therefore leaves room for
// everything else the process opens.
const (
	// minSpareFiles is the fewest descriptors kept for Caddy itself (its
	// listeners, logs, admin API, TLS storage, other apps).
	minSpareFiles = 256
	// spareFilesPercent is the share of the limit kept for them when that
	// is more than minSpareFiles.
	spareFilesPercent = 10
	// filesPerConnection is what one session may hold at once: its socket,
	// and a message file while RETR or TOP runs.
	filesPerConnection = 2
	// maxCountedFiles caps the limit the arithmetic uses (an unlimited
	// RLIMIT_NOFILE is a huge number).
	maxCountedFiles = 1 << 30
)

// connectionsForFiles is how many POP3 connections an open-file limit
// leaves room for: the limit minus its spare part (10%, at least 256),
// halved for the message file each session may have open. It is 0 when
// the limit is too low for any.
func connectionsForFiles(limit uint64) int {
	limit = min(limit, maxCountedFiles)
	spare := max(limit*spareFilesPercent/100, minSpareFiles)
	if limit <= spare {
		return 0
	}
	return int((limit - spare) / filesPerConnection)
}

// openFileLimit returns the open-file limit these limits count with: the
// process's own soft RLIMIT_NOFILE (Go raises it to the hard limit at
// start), and false where there is none to read (Windows).
func (l *Limits) openFileLimit() (uint64, bool) {
	if l.openFiles != nil {
		return l.openFiles()
	}
	return processOpenFileLimit()
}

// defaultMaxConnections is max_connections when it is not set: what the
// open-file limit leaves room for, or DefaultMaxConnections where the
// limit is unknown.
func (l *Limits) defaultMaxConnections() int {
	limit, ok := l.openFileLimit()
	if !ok {
		return DefaultMaxConnections
	}
	return max(1, connectionsForFiles(limit))
}

// validateFileLimit refuses a max_connections the open-file limit cannot
// serve, and an open-file limit too low for any connection.
func (l *Limits) validateFileLimit() error {
	limit, ok := l.openFileLimit()
	if !ok || l.MaxConnections < 0 {
		return nil
	}
	room := connectionsForFiles(limit)
	spare := max(min(limit, maxCountedFiles)*spareFilesPercent/100, minSpareFiles)
	switch {
	case room == 0:
		return fmt.Errorf("max_connections: the open-file limit (RLIMIT_NOFILE) is %d, which leaves no room for POP3 connections after the %d descriptors kept for Caddy; raise it (ulimit -n, systemd LimitNOFILE=) or set max_connections off", limit, spare)
	case l.MaxConnections > room:
		return fmt.Errorf("max_connections: %d is more than the %d connections the open-file limit (RLIMIT_NOFILE %d) allows (%d descriptors kept for Caddy, %d per connection); raise the limit (ulimit -n, systemd LimitNOFILE=) or lower max_connections", l.MaxConnections, room, limit, spare, filesPerConnection)
	}
	return nil
}
