//go:build linux

package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
)

// TestMigrateCommandPostgres copies a maildir into the postgres storage
// of a real node with `caddy pop3 migrate`, twice, and checks the UIDLs
// and contents a POP3 session then sees (see TestMigrateCommand).
func TestMigrateCommandPostgres(t *testing.T) {
	curl := requireTool(t, "curl", "curl")
	c := pgtest.StartForTest(t, freePort(t))
	ctx := context.Background()
	if err := c.CreateDatabase(ctx, "mail"); err != nil {
		t.Fatal(err)
	}
	dsn := c.DSN("mail")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE users (username text PRIMARY KEY, password text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO users VALUES ($1, $2)`, testUser, testPasswordHash(t)); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	s := startPostgresNode(t, dsn)
	old := filepath.Join(t.TempDir(), "old")
	src := writeMaildirSource(t, filepath.Join(old, testUser, "Maildir"))
	migrateAndCheck(t, curl, s, s.config, old, src)
}
