package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

const alice = "alice@example.com"

// twoNodes returns two stores on one database with pools of their own,
// as two Caddy nodes have.
func twoNodes(t *testing.T, lease time.Duration) (a, b *Postgres) {
	dsn := pgtest.DSN(t)
	a = newStore(t, dsn+"&application_name=node-a", lease)
	b = newStore(t, dsn+"&application_name=node-b", lease)
	if a.pool == b.pool {
		t.Fatal("the two nodes share a pool")
	}
	return a, b
}

// mailboxOf returns the mailbox id of user.
func mailboxOf(t testing.TB, p *Postgres, user string) int64 {
	t.Helper()
	var id int64
	if err := p.pool.QueryRow(context.Background(), `SELECT id FROM pop3_mailboxes WHERE username = $1`, user).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestTwoNodesContend runs sessions from two nodes on one maildrop at
// once, while mail is delivered: at most one session holds it at any time,
// the others get ErrInUse, and the inventory is exact at the end.
func TestTwoNodesContend(t *testing.T) {
	a, b := twoNodes(t, 0)
	inv := newInventory(alice)
	for range 10 {
		if err := inv.deliver(a, "before"); err != nil {
			t.Fatal(err)
		}
	}
	var holders, maxHolders, sessions, inUse atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		node := []*Postgres{a, b}[w%2]
		wg.Go(func() {
			for range 15 {
				if w%3 == 0 {
					if err := inv.deliver(node, fmt.Sprintf("w%d", w)); err != nil {
						t.Error(err)
					}
				}
				md, err := node.Open(context.Background(), alice)
				if errors.Is(err, storage.ErrInUse) {
					inUse.Add(1)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if h := holders.Add(1); h > maxHolders.Load() {
					maxHolders.Store(h)
				}
				sessions.Add(1)
				var del []int
				var ids []string
				for i := range md.Messages() {
					msg := readMessage(t, md, i)
					if i%2 == 0 {
						del = append(del, i)
						ids = append(ids, messageID(t, msg))
					}
				}
				holders.Add(-1)
				if err := md.Commit(context.Background(), del); err != nil {
					t.Error(err)
					continue
				}
				inv.markDeleted(ids)
			}
		})
	}
	wg.Wait()
	if maxHolders.Load() != 1 {
		t.Errorf("%d sessions held the maildrop at once", maxHolders.Load())
	}
	t.Logf("%d sessions, %d ErrInUse", sessions.Load(), inUse.Load())
	inv.check(t, a, false)
}

// TestLeaseRenewed checks that a live session keeps its lease past
// lease_time: the renewals work.
func TestLeaseRenewed(t *testing.T) {
	a, b := twoNodes(t, 3*time.Second)
	md, err := a.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	time.Sleep(5 * time.Second) // longer than the lease
	if md2, err := b.Open(context.Background(), alice); !errors.Is(err, storage.ErrInUse) {
		if err == nil {
			md2.Close()
		}
		t.Fatalf("Open on the other node while the lease is renewed: %v, want ErrInUse", err)
	}
}

// TestLeaseExpiryTakeover plays a node that stops renewing (dead or
// paused): the other node gets ErrInUse until the lease expires, then
// takes the maildrop over; the paused session's Commit deletes nothing.
func TestLeaseExpiryTakeover(t *testing.T) {
	a, b := twoNodes(t, time.Second)
	inv := newInventory(alice)
	for range 3 {
		if err := inv.deliver(a, "lease"); err != nil {
			t.Fatal(err)
		}
	}
	old, err := a.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	a.renewPaused.Store(true) // node a stops: no more renewals
	_, err = b.Open(context.Background(), alice)
	if !errors.Is(err, storage.ErrInUse) {
		t.Fatalf("Open on node b while a holds the lease: %v, want ErrInUse", err)
	}
	var md storage.Maildrop
	for range 100 { // bounded: the lease is 1s
		md, err = b.Open(context.Background(), alice)
		if !errors.Is(err, storage.ErrInUse) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("node b never took the expired lease over: %v", err)
	}
	if got := len(md.Messages()); got != 3 {
		t.Errorf("takeover snapshot has %d messages, want 3", got)
	}
	// Node a wakes up and commits its deletions: refused.
	if err := old.Commit(context.Background(), []int{0, 1, 2}); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Commit of the session whose lease was taken over: %v, want ErrLeaseLost", err)
	}
	// Its Close must not release b's lease either.
	if err := old.Close(); err != nil {
		t.Error(err)
	}
	if _, err := a.Open(context.Background(), alice); !errors.Is(err, storage.ErrInUse) {
		t.Errorf("Open after the stale session ended: %v, want ErrInUse (b holds the maildrop)", err)
	}
	if err := md.Close(); err != nil {
		t.Fatal(err)
	}
	if n := inv.check(t, b, false); n != 3 {
		t.Errorf("%d messages after the stale commit, want 3", n)
	}
}

// TestStaleTokenCommit checks the fencing token directly: a session whose
// lease expired and was taken over commits nothing, even without the
// renewer having noticed.
func TestStaleTokenCommit(t *testing.T) {
	a, b := twoNodes(t, 0)
	inv := newInventory(alice)
	for range 4 {
		if err := inv.deliver(a, "stale"); err != nil {
			t.Fatal(err)
		}
	}
	stale, err := a.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	expireLease(t, a, mailboxOf(t, a, alice)) // a was paused past its lease
	fresh, err := b.Open(context.Background(), alice)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	if err := stale.Commit(context.Background(), []int{0, 1, 2, 3}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("stale Commit: %v, want ErrLeaseLost", err)
	}
	// The new session's commit works and is the only one applied.
	inv.commitFirst(t, fresh, a, 3)
}

// TestDeliveryRacesCommit delivers mail from one node while a session on
// the other commits deletions: the commit removes exactly its snapshot's
// messages, the new mail all stays.
func TestDeliveryRacesCommit(t *testing.T) {
	a, b := twoNodes(t, 0)
	inv := newInventory(alice)
	for round := range 5 {
		for range 5 {
			if err := inv.deliver(a, "old"); err != nil {
				t.Fatal(err)
			}
		}
		md, err := b.Open(context.Background(), alice)
		if err != nil {
			t.Fatal(err)
		}
		var all []int
		var ids []string
		for i := range md.Messages() {
			all = append(all, i)
			ids = append(ids, messageID(t, readMessage(t, md, i)))
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for range 5 {
					if err := inv.deliver(a, fmt.Sprintf("race%d.%d", round, w)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		if err := md.Commit(context.Background(), all); err != nil {
			t.Fatal(err)
		}
		inv.markDeleted(ids)
		wg.Wait()
	}
	if n := inv.check(t, b, false); n != 20 {
		t.Errorf("%d messages left, want the 20 delivered during the last commit", n)
	}
}

// TestConcurrentProvision starts several nodes on one new database at
// once: the schema is migrated exactly once and every node works.
func TestConcurrentProvision(t *testing.T) {
	dsn := pgtest.DSN(t)
	const nodes = 6
	stores := make([]*Postgres, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		stores[i] = &Postgres{DSN: fmt.Sprintf("%s&application_name=node%d", dsn, i)}
		wg.Go(func() {
			if errs[i] = stores[i].setup(); errs[i] == nil {
				errs[i] = stores[i].ensureSchema(context.Background())
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		t.Cleanup(func() { stores[i].Cleanup() })
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	var versions, max int
	if err := stores[0].pool.QueryRow(context.Background(), `SELECT count(*), max(version) FROM pop3_schema_migrations`).Scan(&versions, &max); err != nil {
		t.Fatal(err)
	}
	if versions != SchemaVersion || max != SchemaVersion {
		t.Errorf("pop3_schema_migrations has %d rows up to version %d, want %d", versions, max, SchemaVersion)
	}
	inv := newInventory(alice)
	for _, s := range stores {
		if err := inv.deliver(s, "node"); err != nil {
			t.Fatal(err)
		}
	}
	inv.check(t, stores[nodes-1], false)
}

// TestNewerSchemaRefused checks that a node does not touch a schema newer
// than it knows.
func TestNewerSchemaRefused(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	exec(t, p, `INSERT INTO pop3_schema_migrations (version) VALUES ($1)`, SchemaVersion+1)
	q := &Postgres{DSN: p.DSN + "&application_name=old-node"}
	if err := q.setup(); err != nil {
		t.Fatal(err)
	}
	defer q.Cleanup()
	if err := q.ensureSchema(context.Background()); err == nil {
		t.Fatal("a schema newer than the module was accepted")
	}
}
