//go:build linux

package e2e

import (
	"path/filepath"
	"testing"
)

// TestMigrateCommandPostgres copies a maildir into the postgres storage
// of a real node with `caddy pop3 migrate`, twice, and checks the UIDLs
// and contents a POP3 session then sees (see TestMigrateCommand).
func TestMigrateCommandPostgres(t *testing.T) {
	curl := requireTool(t, "curl", "curl")
	_, dsn := startMailDatabase(t)

	s := startPostgresNode(t, dsn)
	old := filepath.Join(t.TempDir(), "old")
	src := writeMaildirSource(t, filepath.Join(old, testUser, "Maildir"))
	migrateAndCheck(t, curl, s, s.config, old, src)
}
