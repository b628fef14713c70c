package maildir

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestImportKeepsUIDLAndReceivedTime checks that an imported message's
// file is named by its UIDL, has the received time as its mtime, and that
// a UIDL that cannot be a file name is refused without storing anything.
func TestImportKeepsUIDLAndReceivedTime(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	received := time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)
	msg := []byte("Subject: old\n\nfrom the old server\n")
	ctx := context.Background()
	if err := m.Import(ctx, "alice", storage.Envelope{Received: received}, "00000001567abcde", bytes.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	got := names(t, filepath.Join(root, dirNew))
	if len(got) != 1 || baseOf(got[0]) != "00000001567abcde" {
		t.Fatalf("new/ has %q, want one file with base 00000001567abcde", got)
	}
	fi, err := os.Stat(filepath.Join(root, dirNew, got[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(received) {
		t.Errorf("mtime %v, want the received time %v", fi.ModTime(), received)
	}
	for _, bad := range []string{"a,b", "a:b", "a/b", ".hidden", `a\b`, "a;b"} {
		err := m.Import(ctx, "alice", storage.Envelope{}, bad, bytes.NewReader(msg))
		if !errors.Is(err, storage.ErrUIDLNotStorable) {
			t.Errorf("Import with UIDL %q: %v, want ErrUIDLNotStorable", bad, err)
		}
	}
	md, err := m.Open(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if msgs := md.Messages(); len(msgs) != 1 || msgs[0].UID != "00000001567abcde" {
		t.Fatalf("listing %v, want the one imported message", msgs)
	}
}

// TestSourceIsReadOnly checks that a maildir opened as a migration source
// lists new/ and cur/ with the UIDLs a session shows, and moves, renames,
// removes and creates nothing.
func TestSourceIsReadOnly(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	writeMaildirFile(t, root, dirNew, "1600000000.M1P1.old", []byte("Subject: new\n\nin new/\n"))
	writeMaildirFile(t, root, dirCur, "1500000000.M1P1.old:2,S", []byte("Subject: cur\n\nin cur/, seen\n"))
	writeMaildirFile(t, root, dirCur, "1400000000.M1P1.old,S=20:2,", []byte("Subject: x\n\nno W=\n"))
	mtime := time.Date(2018, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, dirNew, "1600000000.M1P1.old"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	before := tree(t, root)

	s, err := OpenSource(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	var gotUIDs []string
	for i, msg := range s.Messages() {
		gotUIDs = append(gotUIDs, msg.UID)
		r, err := s.Open(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if storage.WireSize(b) != msg.Size {
			t.Errorf("message %s: size %d, content of %d wire octets", msg.UID, msg.Size, storage.WireSize(b))
		}
	}
	if want := []string{"1400000000.M1P1.old", "1500000000.M1P1.old", "1600000000.M1P1.old"}; !slices.Equal(gotUIDs, want) {
		t.Errorf("UIDLs %q, want %q", gotUIDs, want)
	}
	if rt, err := s.Received(2); err != nil || !rt.Equal(mtime) {
		t.Errorf("Received(2) = %v, %v; want %v", rt, err, mtime)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if after := tree(t, root); !slices.Equal(before, after) {
		t.Errorf("the source changed:\nbefore %q\nafter  %q", before, after)
	}
}

// tree lists every path under root.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		out = append(out, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
