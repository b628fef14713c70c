package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestReleasesGrouped checks the grouped release of leases (see
// release.go): releases that queue while a group is on its way go in one
// statement; each session learns whether its own lease was released; a
// group holding a stale session's release and the release of the session
// that took its maildrop over, for the same mailbox, releases only the
// latter; and nothing is deleted.
func TestReleasesGrouped(t *testing.T) {
	p, writes := countedStore(t, pgtest.DSN(t))
	ctx := context.Background()
	const n = 10
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("user%d@example.com", i)
		if err := p.Deliver(ctx, users[i], storage.Envelope{}, bytes.NewReader([]byte("Subject: g\n\nkeep me\n"))); err != nil {
			t.Fatal(err)
		}
	}
	var sessions []storage.Maildrop
	for _, u := range users {
		md, err := p.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, md)
	}
	// users[0]'s lease expires and a new session takes it over.
	stale := sessions[0]
	exec(t, p, `UPDATE pop3_mailboxes SET lease_expires = clock_timestamp() - interval '1 second' WHERE username = $1`, users[0])
	over, err := p.Open(ctx, users[0])
	if err != nil {
		t.Fatal(err)
	}
	sessions[0] = over

	// A group on its way: everything queues.
	p.releases.mu.Lock()
	p.releases.running = true
	p.releases.mu.Unlock()
	errs := make(chan error, n+1)
	go func() { errs <- stale.Commit(ctx, nil) }()
	for _, md := range sessions {
		go func() { errs <- md.Commit(ctx, nil) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.releases.mu.Lock()
		queued := len(p.releases.queue)
		p.releases.mu.Unlock()
		if queued == n+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d releases queued, want %d", queued, n+1)
		}
		time.Sleep(time.Millisecond)
	}
	before := writes.Load()
	p.releaseQueued() // the group on its way is done
	lost := 0
	for range n + 1 {
		switch err := <-errs; {
		case errors.Is(err, ErrLeaseLost):
			lost++
		case err != nil:
			t.Errorf("Commit: %v", err)
		}
	}
	if lost != 1 {
		t.Errorf("%d commits found their lease lost, want 1 (the stale session)", lost)
	}
	if w := writes.Load() - before; w > 2 {
		t.Errorf("%d releases took %d round trips, want one statement", n+1, w)
	}
	var held, messages int
	if err := p.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE lease_owner IS NOT NULL), (SELECT count(*) FROM pop3_messages) FROM pop3_mailboxes`).Scan(&held, &messages); err != nil {
		t.Fatal(err)
	}
	if held != 0 || messages != n {
		t.Errorf("after the group: %d leases held, %d messages; want 0 and %d", held, messages, n)
	}
	// Free again: every maildrop opens.
	for _, u := range users {
		md, err := p.Open(ctx, u)
		if err != nil {
			t.Fatalf("%s after its release: %v", u, err)
		}
		md.Close()
	}
}
