package pop3

import (
	"context"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// stuckStore is a storage.Store whose Open waits until its context ends
// (a maildrop lock that is slow to come, a storage server that does not
// answer), or until release is closed.
type stuckStore struct {
	entered chan struct{}
	release chan struct{}
}

func (s *stuckStore) Open(ctx context.Context, _ string) (storage.Maildrop, error) {
	close(s.entered)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.release:
		return nil, storage.ErrInUse
	}
}

// stuckWait bounds how long the test waits for a session that should end
// at once: it only keeps a failing test from hanging.
const stuckWait = 20 * time.Second

// TestSessionShutdownDuringStorageOpen ends, from outside (the admin API,
// a reload's grace period, process exit), a session that is waiting in
// the storage backend at login: it must end at once, not when the
// backend gives up.
func TestSessionShutdownDuringStorageOpen(t *testing.T) {
	stuck := &stuckStore{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(stuck.release)
	ts := newTestServer(t, func(ts *testServer) { ts.h.store = stuck })
	c := ts.dial(t)
	c.Send("USER alice\r\nPASS secret pw\r\n") // answered together, after PASS
	select {
	case <-stuck.entered:
	case <-time.After(stuckWait):
		t.Fatal("the session never opened the maildrop")
	}
	sessions := pop3server.Live.Of(ts.h)
	if len(sessions) != 1 {
		t.Fatalf("%d live sessions, want 1", len(sessions))
	}
	sessions[0].Shutdown(pop3server.ReasonAdmin)
	select {
	case <-sessions[0].Done():
	case <-time.After(stuckWait):
		t.Fatalf("a session waiting in Store.Open did not end when told to (still waiting after %v)", stuckWait)
	}
}
