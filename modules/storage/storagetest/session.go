package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// testSnapshotIsolation checks that mail delivered during a session is
// not in that session's snapshot and is in the next one.
func (s suite) testSnapshotIsolation(t *testing.T) {
	s.forEachDeliverer(t, func(t *testing.T, f Fixture, deliver func(*testing.T, string, []byte)) {
		msgs := numbered("snapshot", 3)
		deliver(t, alice, msgs[0])
		md := open(t, f.Store, alice)
		before := slices.Clone(md.Messages())
		deliver(t, alice, msgs[1])
		deliver(t, alice, msgs[2])
		if got := md.Messages(); !slices.Equal(got, before) {
			t.Errorf("snapshot changed during the session: %v, was %v", got, before)
		}
		expectContents(t, readAll(t, md), msgs[:1])
		if err := md.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		next := look(t, f.Store, alice)
		expectContents(t, next.contents, msgs)
		checkListing(t, next)
		if next.msgs[0].UID != before[0].UID {
			t.Errorf("UIDL of the first message changed from %q to %q", before[0].UID, next.msgs[0].UID)
		}
	})
}

// testDeliveryDuringSession checks that a message delivered during a
// session survives that session's commit.
func (s suite) testDeliveryDuringSession(t *testing.T) {
	s.forEachDeliverer(t, func(t *testing.T, f Fixture, deliver func(*testing.T, string, []byte)) {
		msgs := numbered("during", 4)
		deliver(t, alice, msgs[0])
		deliver(t, alice, msgs[1])
		md := open(t, f.Store, alice)
		deliver(t, alice, msgs[2])
		_ = readAll(t, md)
		deliver(t, alice, msgs[3])
		if err := md.Commit(context.Background(), []int{0, 1}); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		v := look(t, f.Store, alice)
		expectContents(t, v.contents, msgs[2:])
		checkListing(t, v)
	})
}

// testConcurrentDeliveries runs deliveries from several goroutines while
// sessions one after another read everything and delete it: every message
// must be seen exactly once, none lost, none back after deletion.
func (s suite) testConcurrentDeliveries(t *testing.T) {
	f, d := s.fixture(t)
	const writers, perWriter = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				msg := fmt.Appendf(nil, "Subject: w%d m%d\n\nbody\n", w, i)
				if err := d.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
					errs <- err
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	defer func() { <-done }() // no delivery outlives the test, even a failed one

	seen := make(map[string]int)
	sessions := 0
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true // one more session after the last delivery
		default:
		}
		sessions++
		md := open(t, f.Store, alice)
		v := view{msgs: md.Messages(), contents: readAll(t, md)}
		checkListing(t, v)
		var all []int
		for i, c := range v.contents {
			seen[string(c)]++
			all = append(all, i)
		}
		if err := md.Commit(context.Background(), all); err != nil {
			t.Fatalf("session %d: Commit: %v", sessions, err)
		}
	}
	close(errs)
	for err := range errs {
		t.Errorf("Deliver: %v", err)
	}
	if len(seen) != writers*perWriter {
		t.Errorf("sessions saw %d distinct messages, want %d", len(seen), writers*perWriter)
	}
	for c, n := range seen {
		if n != 1 {
			t.Errorf("message %q seen %d times, want once", c, n)
		}
	}
	if v := look(t, f.Store, alice); len(v.msgs) != 0 {
		t.Errorf("maildrop still has %d messages after everything was deleted", len(v.msgs))
	}
}
