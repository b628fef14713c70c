package storagetest

import (
	"context"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// testLocking checks that a maildrop has one session at a time, that
// other users are not affected, and that both Close and Commit let the
// next session in.
func (s suite) testLocking(t *testing.T) {
	f, d := s.fixture(t)
	deliver(t, d, alice, numbered("lock", 1)[0])
	ctx := context.Background()

	a := open(t, f.Store, alice)
	if md, err := f.Store.Open(ctx, alice); err == nil {
		md.Close()
		t.Fatal("second Open of a locked maildrop succeeded")
	} else {
		expectErr(t, "second Open", err, storage.ErrInUse)
	}
	b := open(t, f.Store, bob) // another user is not locked out
	deliver(t, d, alice, numbered("lock while open", 1)[0])
	if err := b.Close(); err != nil {
		t.Fatalf("Close bob: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	c := open(t, f.Store, alice) // free again after Close
	if len(c.Messages()) != 2 {
		t.Errorf("maildrop has %d messages, want 2", len(c.Messages()))
	}
	_, err := f.Store.Open(ctx, alice)
	expectErr(t, "Open while locked again", err, storage.ErrInUse)
	if err := c.Commit(ctx, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	e := open(t, f.Store, alice) // free again after Commit
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// testCloseAfterCommit checks that Close after Commit does nothing: in
// particular it must not release the lock of the session that came next.
func (s suite) testCloseAfterCommit(t *testing.T) {
	f, d := s.fixture(t)
	msgs := numbered("close after commit", 2)
	for _, m := range msgs {
		deliver(t, d, alice, m)
	}
	a := open(t, f.Store, alice)
	if err := a.Commit(context.Background(), []int{0}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	b := open(t, f.Store, alice)
	if err := a.Close(); err != nil {
		t.Errorf("Close after Commit: %v", err)
	}
	_, err := f.Store.Open(context.Background(), alice)
	expectErr(t, "Open after the old session's Close", err, storage.ErrInUse)
	expectContents(t, readAll(t, b), msgs[1:])
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
