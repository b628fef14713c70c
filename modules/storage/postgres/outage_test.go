package postgres

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestDatabaseUnreachable checks that with no database Open and Deliver
// fail with an error (the handler answers -ERR [SYS/TEMP]), not ErrInUse
// or ErrInvalidUser, and that Provision does not fail.
func TestDatabaseUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	p := &Postgres{DSN: "postgres://pop3@" + addr + "/mail?sslmode=disable", Timeout: caddy.Duration(time.Second)}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := p.Provision(ctx); err != nil {
		t.Fatalf("Provision with the database down: %v", err)
	}
	defer p.Cleanup()
	_, err = p.Open(context.Background(), alice)
	if err == nil || errors.Is(err, storage.ErrInUse) || errors.Is(err, storage.ErrInvalidUser) {
		t.Fatalf("Open with the database down: %v, want a plain error", err)
	}
	err = p.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader([]byte("Subject: x\n\nx\n")))
	if err == nil {
		t.Fatal("Deliver with the database down succeeded")
	}
}

// TestDatabaseRestart stops the database in the middle of a session:
// Open and Deliver fail, the session's Commit deletes nothing; once the
// database is back, the same store works again by itself (after the
// interrupted session's lease lapsed) and no mail is lost.
func TestDatabaseRestart(t *testing.T) {
	c := pgtest.Shared(t)
	p := newStore(t, pgtest.DSN(t), time.Second)
	p.Timeout = caddy.Duration(2 * time.Second)
	inv := newInventory(alice)
	for range 5 {
		if err := inv.deliver(p, "restart"); err != nil {
			t.Fatal(err)
		}
	}
	md, err := p.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	_ = readMessage(t, md, 0)

	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			if err := c.StartServer(); err != nil {
				t.Errorf("restarting the database: %v", err)
			}
		}
	}()
	// Reading fails, or (for a small message fetched ahead with the first
	// one) gives the exact content.
	if r, err := md.Open(context.Background(), 1); err == nil {
		got, err := io.ReadAll(r)
		r.Close()
		if err == nil && messageID(t, got) == "" {
			t.Errorf("message read with the database down is damaged: %q", got)
		}
	}
	if err := md.Commit(context.Background(), []int{0, 1, 2}); err == nil {
		t.Error("Commit with the database down reported success")
	}
	if _, err := p.Open(context.Background(), "bob@example.com"); err == nil || errors.Is(err, storage.ErrInUse) {
		t.Errorf("Open with the database down: %v, want a plain error", err)
	}
	if err := inv.deliver(p, "lost"); err == nil {
		t.Error("Deliver with the database down succeeded")
	}

	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	// The pool reconnects by itself; the interrupted session's lease
	// lapses after lease_time (1s). Bounded wait.
	var md2 storage.Maildrop
	for range 100 {
		md2, err = p.Open(context.Background(), alice)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the store did not recover after the database restart: %v", err)
	}
	md2.Close()
	if err := inv.deliver(p, "after"); err != nil {
		t.Fatalf("Deliver after the restart: %v", err)
	}
	if n := inv.check(t, p, false); n != 6 {
		t.Errorf("%d messages after the restart, want 6", n)
	}
}

// TestDatabaseHung checks that a database that accepts connections and
// never answers makes Open fail after the timeout instead of hanging the
// login. (The watchdog only catches a hang; no duration is asserted.)
func TestDatabaseHung(t *testing.T) {
	addr := pgtest.SilentServer(t)
	p := &Postgres{DSN: "postgres://pop3@" + addr + "/mail?sslmode=disable", Timeout: caddy.Duration(500 * time.Millisecond)}
	if err := p.setup(); err != nil {
		t.Fatal(err)
	}
	defer p.Cleanup()
	errc := make(chan error, 1)
	go func() {
		md, err := p.Open(context.Background(), alice)
		if err == nil {
			md.Close()
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		if err == nil || errors.Is(err, storage.ErrInUse) {
			t.Fatalf("Open with a hung database: %v, want a plain error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Open with a hung database did not return")
	}
}
