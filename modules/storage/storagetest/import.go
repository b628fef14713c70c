package storagetest

import (
	"bytes"
	"context"

	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// testImport checks storage.Importer, for backends that implement it:
// imported messages keep their UIDLs and contents, a second import of
// the same UIDLs stores nothing (ErrUIDLExists), a different message under
// a UIDL that is taken stores nothing and leaves the first intact
// (ErrUIDLConflict), an invalid UIDL is refused, and a later delivery gets
// a UIDL of its own.
func (s suite) testImport(t *testing.T) {
	f, d := s.fixture(t)
	imp, ok := f.Store.(storage.Importer)
	if !ok {
		t.Skipf("%T does not implement storage.Importer", f.Store)
	}
	ctx := context.Background()
	msgs := numbered("import", 3)
	want := map[string][]byte{"imp-0001": msgs[0], "imp-0002": msgs[1], "X00000003000abcde": msgs[2]}
	received := time.Date(2020, 5, 17, 10, 30, 0, 0, time.UTC)
	importAll := func() []error {
		var errs []error
		for _, uid := range []string{"imp-0001", "imp-0002", "X00000003000abcde"} {
			errs = append(errs, imp.Import(ctx, alice, storage.Envelope{Sender: "old@example.net", Received: received}, uid, bytes.NewReader(want[uid])))
		}
		return errs
	}
	for i, err := range importAll() {
		if err != nil {
			t.Fatalf("Import %d: %v", i, err)
		}
	}
	expectByUID(t, look(t, f.Store, alice), want)

	// A second run stores nothing.
	for _, err := range importAll() {
		expectErr(t, "second Import", err, storage.ErrUIDLExists)
	}
	expectByUID(t, look(t, f.Store, alice), want)
	// Another message under a taken UIDL: refused, the first kept.
	err := imp.Import(ctx, alice, storage.Envelope{}, "imp-0001", bytes.NewReader([]byte("Subject: impostor\n\na different, longer message\n")))
	expectErr(t, "Import of another message under a taken UIDL", err, storage.ErrUIDLConflict)
	expectByUID(t, look(t, f.Store, alice), want)
	// Invalid UIDLs: refused.
	for _, bad := range []string{"", "has space", string(bytes.Repeat([]byte("x"), 71)), "ctl\x01"} {
		if err := imp.Import(ctx, alice, storage.Envelope{}, bad, bytes.NewReader(msgs[0])); err == nil {
			t.Errorf("Import with UIDL %q succeeded", bad)
		}
	}
	// Other users are untouched; a delivery gets a UIDL of its own.
	if v := look(t, f.Store, bob); len(v.msgs) != 0 {
		t.Errorf("bob has %d messages after imports for alice", len(v.msgs))
	}
	later := []byte("Subject: later\n\ndelivered after the import\n")
	deliver(t, d, alice, later)
	v := look(t, f.Store, alice)
	checkListing(t, v)
	if len(v.msgs) != 4 {
		t.Fatalf("maildrop has %d messages, want 4", len(v.msgs))
	}
	for i, m := range v.msgs {
		if _, imported := want[m.UID]; !imported {
			if !bytes.Equal(v.contents[i], later) {
				t.Errorf("message %s is %q, want the later delivery", m.UID, v.contents[i])
			}
			want[m.UID] = later
		}
	}
	expectByUID(t, v, want)
}

// expectByUID fails the test unless v holds exactly the messages of want
// (UIDL -> content), in any order, byte for byte.
func expectByUID(t *testing.T, v view, want map[string][]byte) {
	t.Helper()
	checkListing(t, v)
	if len(v.msgs) != len(want) {
		t.Errorf("maildrop has %d messages %q, want %d", len(v.msgs), uids(v.msgs), len(want))
	}
	for i, m := range v.msgs {
		w, ok := want[m.UID]
		if !ok {
			t.Errorf("unexpected message %d with UIDL %q", i, m.UID)
			continue
		}
		if !bytes.Equal(v.contents[i], w) {
			t.Errorf("message %s is %q, want %q", m.UID, v.contents[i], w)
		}
	}
}
