package postgres

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/goleak"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
)

// TestMain runs the tests on one private PostgreSQL and then checks that
// no goroutine was left behind (lease renewers, chunk fetchers, pools).
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left behind: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// newStore returns a provisioned store on dsn with the given lease time
// (0: the default) and a content cache of its own, released when t
// ends.
func newStore(t testing.TB, dsn string, lease time.Duration) *Postgres {
	t.Helper()
	p := &Postgres{DSN: dsn, LeaseTime: caddy.Duration(lease)}
	if err := p.setup(); err != nil {
		t.Fatal(err)
	}
	// A content cache of its own, as on a node of its own: what one test
	// (or "node") served is not in another's.
	p.cache = newContentCache(DefaultContentCacheSize)
	t.Cleanup(func() { p.Cleanup() })
	if err := p.ensureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

// exec runs one statement on the store's database behind its back.
func exec(t testing.TB, p *Postgres, sql string, args ...any) int64 {
	t.Helper()
	tag, err := p.pool.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tag.RowsAffected()
}
