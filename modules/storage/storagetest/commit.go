package storagetest

import (
	"bytes"
	"context"
	"slices"
	"testing"
)

// testCommit checks that Commit removes exactly the messages it is given
// and keeps the others byte for byte, with their UIDLs, in order.
func (s suite) testCommit(t *testing.T) {
	tests := []struct {
		name    string
		deleted []int
		kept    []int
	}{
		{"none", nil, []int{0, 1, 2, 3, 4}},
		{"empty list", []int{}, []int{0, 1, 2, 3, 4}},
		{"first", []int{0}, []int{1, 2, 3, 4}},
		{"last", []int{4}, []int{0, 1, 2, 3}},
		{"some", []int{1, 3}, []int{0, 2, 4}},
		{"unsorted", []int{3, 0, 2}, []int{1, 4}},
		{"repeated index", []int{2, 2}, []int{0, 1, 3, 4}},
		{"all", []int{0, 1, 2, 3, 4}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, d := s.fixture(t)
			msgs := numbered("commit", 5)
			msgs[2] = []byte("Subject: crlf\r\n\r\nline\r\n.\r\nno final newline")
			for _, m := range msgs {
				deliver(t, d, alice, m)
			}
			before := look(t, f.Store, alice)
			md := open(t, f.Store, alice)
			if err := md.Commit(context.Background(), tt.deleted); err != nil {
				t.Fatalf("Commit(%v): %v", tt.deleted, err)
			}
			after := look(t, f.Store, alice)
			var wantContents [][]byte
			var wantUIDs []string
			for _, i := range tt.kept {
				wantContents = append(wantContents, msgs[i])
				wantUIDs = append(wantUIDs, before.msgs[i].UID)
			}
			expectContents(t, after.contents, wantContents)
			if got := uids(after.msgs); !slices.Equal(got, wantUIDs) {
				t.Errorf("UIDLs after commit %q, want %q", got, wantUIDs)
			}
			checkListing(t, after)
		})
	}
}

// testCloseDeletesNothing checks that a session that ends without a
// commit (QUIT outside TRANSACTION, a dropped connection, a timeout)
// changes nothing, even after reading every message.
func (s suite) testCloseDeletesNothing(t *testing.T) {
	f, d := s.fixture(t)
	msgs := numbered("close", 3)
	for _, m := range msgs {
		deliver(t, d, alice, m)
	}
	before := look(t, f.Store, alice)
	md := open(t, f.Store, alice)
	_ = readAll(t, md)
	if err := md.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := md.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	after := look(t, f.Store, alice)
	expectContents(t, after.contents, msgs)
	if !slices.Equal(uids(after.msgs), uids(before.msgs)) {
		t.Errorf("UIDLs changed from %q to %q", uids(before.msgs), uids(after.msgs))
	}
}

// testCommitVanished checks that a commit succeeds when messages of the
// snapshot were removed by someone else in the meantime.
func (s suite) testCommitVanished(t *testing.T) {
	tests := []struct {
		name    string
		removed int
		deleted []int
		kept    []int
	}{
		{"vanished and deleted", 1, []int{1}, []int{0, 2}},
		{"vanished, others deleted", 1, []int{0, 1}, []int{2}},
		{"vanished, not deleted", 1, []int{2}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, d := s.fixture(t)
			if f.Remove == nil {
				t.Skip("fixture has no Remove hook")
			}
			msgs := numbered("vanish", 3)
			for _, m := range msgs {
				deliver(t, d, alice, m)
			}
			md := open(t, f.Store, alice)
			f.Remove(t, alice, md.Messages()[tt.removed].UID)
			for _, i := range tt.kept {
				if got := read(t, md, i); !bytes.Equal(got, msgs[i]) {
					t.Errorf("message %d after another was removed: %q, want %q", i, got, msgs[i])
				}
			}
			if err := md.Commit(context.Background(), tt.deleted); err != nil {
				t.Fatalf("Commit(%v) after message %d vanished: %v", tt.deleted, tt.removed, err)
			}
			var want [][]byte
			for _, i := range tt.kept {
				want = append(want, msgs[i])
			}
			expectContents(t, look(t, f.Store, alice).contents, want)
		})
	}
}

// testCrashDuringCommit checks that a process dying in the middle of a
// commit loses nothing: every message that was to be kept is still there
// byte for byte with its UIDL, a message that was to be deleted is either
// intact or gone, and the next session can finish the job.
func (s suite) testCrashDuringCommit(t *testing.T) {
	f, d := s.fixture(t)
	if f.CrashCommit == nil {
		t.Skip("fixture has no CrashCommit hook")
	}
	msgs := numbered("crash", 5)
	for _, m := range msgs {
		deliver(t, d, alice, m)
	}
	md := open(t, f.Store, alice)
	before := slices.Clone(md.Messages())
	deleted := []int{0, 2, 3}
	f.CrashCommit(t, md, deleted)

	md = open(t, f.Store, alice) // the lock died with the process
	v := view{msgs: md.Messages(), contents: readAll(t, md)}
	checkListing(t, v)
	var again []int // messages to delete that are still there
	next := 0
	for i := range msgs {
		found := next < len(v.contents) && bytes.Equal(v.contents[next], msgs[i])
		if found && v.msgs[next].UID != before[i].UID {
			t.Errorf("message %d: UIDL %q after the crash, was %q", i, v.msgs[next].UID, before[i].UID)
		}
		switch {
		case found && slices.Contains(deleted, i):
			again = append(again, next)
			next++
		case found:
			next++
		case !slices.Contains(deleted, i):
			t.Errorf("message %d was to be kept and is lost or damaged after the crash", i)
		}
	}
	if next != len(v.contents) {
		t.Errorf("after the crash the maildrop has %d messages, expected %d of them: %q", len(v.contents), next, v.contents)
	}
	if err := md.Commit(context.Background(), again); err != nil {
		t.Fatalf("Commit after the crash: %v", err)
	}
	expectContents(t, look(t, f.Store, alice).contents, [][]byte{msgs[1], msgs[4]})
}
