package storage

import (
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
)

// DefaultMaildirPath is the path template of the default storage, used by
// every handler that is configured without one: one maildir per user under
// Caddy's data directory, so the pop3 and lmtp handlers of a config with no
// storage block read and write the same mailboxes.
func DefaultMaildirPath() string {
	return filepath.Join(caddy.AppDataDir(), "pop3", "mail", PlaceholderUser, "Maildir")
}
