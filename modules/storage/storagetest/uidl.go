package storagetest

import (
	"context"
	"slices"
	"testing"
)

// testUIDL checks that UIDLs are valid, unique even for identical
// messages, the same in every session, kept by the messages that survive a
// commit, and never given again to a later message.
func (s suite) testUIDL(t *testing.T) {
	s.forEachDeliverer(t, func(t *testing.T, f Fixture, deliver func(*testing.T, string, []byte)) {
		msgs := numbered("uidl", 4)
		same := []byte("Subject: twice\n\nthe same bytes, delivered three times\n")
		for _, m := range msgs {
			deliver(t, alice, m)
		}
		for range 3 {
			deliver(t, alice, same)
		}

		first := look(t, f.Store, alice)
		checkListing(t, first)
		if len(first.msgs) != 7 {
			t.Fatalf("maildrop has %d messages, want 7", len(first.msgs))
		}
		second := look(t, f.Store, alice)
		if !slices.Equal(uids(first.msgs), uids(second.msgs)) {
			t.Fatalf("UIDLs changed between sessions:\nfirst  %q\nsecond %q", uids(first.msgs), uids(second.msgs))
		}

		// Delete two, then deliver more: the kept ones keep their UIDLs
		// and the new ones reuse none of the old.
		md := open(t, f.Store, alice)
		if err := md.Commit(context.Background(), []int{0, 5}); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		for _, m := range numbered("later", 3) {
			deliver(t, alice, m)
		}
		third := look(t, f.Store, alice)
		checkListing(t, third)
		kept := []string{first.msgs[1].UID, first.msgs[2].UID, first.msgs[3].UID, first.msgs[4].UID, first.msgs[6].UID}
		if len(third.msgs) != len(kept)+3 {
			t.Fatalf("maildrop has %d messages, want %d", len(third.msgs), len(kept)+3)
		}
		if got := uids(third.msgs[:len(kept)]); !slices.Equal(got, kept) {
			t.Errorf("UIDLs after commit %q, want %q", got, kept)
		}
		for _, m := range third.msgs[len(kept):] {
			if slices.Contains(uids(first.msgs), m.UID) {
				t.Errorf("new message reuses the UIDL %q", m.UID)
			}
		}
	})
}
