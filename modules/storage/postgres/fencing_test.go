package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// leaseRow reads the lease columns of a mailbox row.
func leaseRow(t testing.TB, p *Postgres, mailbox int64) (token int64, owner *string) {
	t.Helper()
	if err := p.pool.QueryRow(context.Background(), `SELECT lease_token, lease_owner FROM pop3_mailboxes WHERE id = $1`, mailbox).Scan(&token, &owner); err != nil {
		t.Fatal(err)
	}
	return token, owner
}

// TestReissuedTokenCommit plays a database crash that lost a lease take
// (the take commits without waiting for its WAL flush): the mailbox row
// is put back as it was before the take, and a second session gets the
// same token number, with another owner. The first session (stale) must
// renew, release and delete nothing; the second keeps its lease and is
// the only one whose deletions apply. With two nodes and with two
// sessions of one node.
func TestReissuedTokenCommit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sameNode bool
		close    bool // the stale session ends with Close instead of a Commit with deletions
	}{
		{"two nodes, commit", false, false},
		{"one node, commit", true, false},
		{"two nodes, close", false, true},
		{"one node, close", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := twoNodes(t, 0)
			if tc.sameNode {
				b = a
			}
			inv := newInventory(alice)
			for range 4 {
				if err := inv.deliver(a, "reissued"); err != nil {
					t.Fatal(err)
				}
			}
			mailbox := mailboxOf(t, a, alice)
			before, _ := leaseRow(t, a, mailbox)
			stale, err := a.Open(context.Background(), alice)
			if err != nil {
				t.Fatal(err)
			}
			// The crash: the take is gone, the row is as before it.
			exec(t, a, `UPDATE pop3_mailboxes SET lease_token = $2, lease_owner = NULL, lease_expires = NULL WHERE id = $1`, mailbox, before)
			fresh, err := b.Open(context.Background(), alice)
			if err != nil {
				t.Fatalf("the second session: %v", err)
			}
			s, f := stale.(*maildrop), fresh.(*maildrop)
			if s.token != f.token || s.owner == f.owner {
				t.Fatalf("tokens %d and %d, owners %q and %q: want the same token and different owners", s.token, f.token, s.owner, f.owner)
			}
			if s.renewOnce() {
				t.Error("the stale session renewed the other session's lease")
			}
			if tc.close {
				if err := stale.Close(); err != nil {
					t.Fatal(err)
				}
			} else if err := stale.Commit(context.Background(), []int{0, 1, 2, 3}); !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("stale Commit: %v, want ErrLeaseLost", err)
			}
			// The second session still holds the maildrop.
			if _, owner := leaseRow(t, a, mailbox); owner == nil || *owner != f.owner {
				t.Fatalf("lease owner %v after the stale session ended, want %q", owner, f.owner)
			}
			if md, err := a.Open(context.Background(), alice); !errors.Is(err, storage.ErrInUse) {
				if err == nil {
					md.Close()
				}
				t.Fatalf("a third session: %v, want ErrInUse", err)
			}
			inv.commitFirst(t, fresh, a, 3)
		})
	}
}

// TestLostTakeAfterCrash crashes a real PostgreSQL (pg_ctl stop -m
// immediate) right after a lease take, on a private cluster whose WAL
// writer waits 10 s between rounds: the take, which commits without
// waiting for its WAL flush, is lost, and a new session gets the same
// token number. The session whose take was lost deletes nothing; the new
// one's deletions apply. (A take whose WAL record happens to reach disk
// anyway is released and tried again, at most three times.)
func TestLostTakeAfterCrash(t *testing.T) {
	c := pgtest.StartForTest(t, 0)
	admin, err := pgx.Connect(context.Background(), c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{`ALTER SYSTEM SET wal_writer_delay = '10s'`, `CREATE DATABASE mail`} {
		if _, err := admin.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	admin.Close(context.Background())
	// The setting is read at start; this restart also flushes everything.
	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	p := newStore(t, c.DSN("mail"), 0)
	inv := newInventory(alice)
	for range 3 {
		if err := inv.deliver(p, "crash"); err != nil { // synchronous: flushed
			t.Fatal(err)
		}
	}
	mailbox := mailboxOf(t, p, alice)
	for attempt := range 3 {
		before, _ := leaseRow(t, p, mailbox)
		stale, err := p.Open(context.Background(), alice)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.StopServer(); err != nil {
			t.Fatal(err)
		}
		if err := c.StartServer(); err != nil {
			t.Fatal(err)
		}
		after := before
		for range 100 { // the pool reconnects by itself; bounded
			var token int64
			if err = p.pool.QueryRow(context.Background(), `SELECT lease_token FROM pop3_mailboxes WHERE id = $1`, mailbox).Scan(&token); err == nil {
				after = token
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("the database did not come back: %v", err)
		}
		if after != before {
			t.Logf("attempt %d: the take reached the disk before the crash; again", attempt+1)
			if err := stale.Close(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		fresh, err := p.Open(context.Background(), alice)
		if err != nil {
			t.Fatalf("a new session after the crash: %v", err)
		}
		if s, f := stale.(*maildrop), fresh.(*maildrop); s.token != f.token {
			t.Fatalf("tokens %d and %d: the new session should have got the lost take's number again", s.token, f.token)
		}
		if err := stale.Commit(context.Background(), []int{0, 1, 2}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Commit of the session whose take was lost: %v, want ErrLeaseLost", err)
		}
		inv.commitFirst(t, fresh, p, 2)
		return
	}
	t.Fatal("three takes in a row reached the disk before an immediate crash: does the take still wait for its WAL flush?")
}
