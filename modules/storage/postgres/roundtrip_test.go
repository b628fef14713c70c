package postgres

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// countingConn counts the writes to a database connection: pgx writes
// each statement (or pipeline of statements) in one write and then waits
// for the answer, so the writes are the round trips.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

// Write counts one round trip.
func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// countedStore returns a store on dsn whose pool has one connection and
// counts the round trips to the database on it.
func countedStore(t testing.TB, dsn string) (*Postgres, *atomic.Int64) {
	t.Helper()
	p := newStore(t, dsn, 0)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	writes := new(atomic.Int64)
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, writes: writes}, nil
	}
	cfg.MaxConns = 1
	// No liveness ping of a connection idle for a second (pgxpool's
	// default): it would be a round trip that the session did not ask for.
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	p.pool = pool
	return p, writes
}

// session runs one POP3 session's storage calls: Open, Messages, every
// message read in order, then Commit(deleted), or Close when deleted is
// nil.
func session(t *testing.T, p *Postgres, deleted []int) []storage.Message {
	t.Helper()
	md, err := p.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	msgs := md.Messages()
	for i := range msgs {
		r, err := md.Open(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	if deleted == nil {
		err = md.Close()
	} else {
		err = md.Commit(context.Background(), deleted)
	}
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestSessionRoundTrips counts the round trips to the database of a
// whole session on a maildrop of 20 × 4 KiB (the small benchmark load):
// login (lease and listing), the RETR of every message, and QUIT (the
// commit and the release of the lease), with and without deletions, and
// a session that ends without QUIT. Counts, not timings: each one is a
// statement on the database and a wait on the network.
func TestSessionRoundTrips(t *testing.T) {
	p, writes := countedStore(t, pgtest.DSN(t))
	msg := append([]byte("Subject: rt\n\n"), bytes.Repeat([]byte("0123456789abcde\n"), 4096/16)...)
	for range 25 {
		if err := p.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// Warm-up: the connection is made and every statement prepared once
	// (pgx caches prepared statements per connection).
	session(t, p, []int{})
	session(t, p, []int{0})
	session(t, p, nil)
	for _, tc := range []struct {
		name    string
		deleted []int
		max     int64
	}{
		{"QUIT without deletions", []int{}, 2},
		{"QUIT with deletions", []int{0, 1}, 2},
		{"no QUIT", nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := writes.Load()
			msgs := session(t, p, tc.deleted)
			got := writes.Load() - before
			if len(msgs) < 20 {
				t.Fatalf("%d messages, want at least 20", len(msgs))
			}
			t.Logf("%d messages: %d round trips", len(msgs), got)
			if got > tc.max {
				t.Errorf("%d round trips to the database for one session, want at most %d", got, tc.max)
			}
		})
	}
}
