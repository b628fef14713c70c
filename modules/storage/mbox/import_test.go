//go:build unix

package mbox

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestImportKeepsUIDLAndReceivedTime checks that an imported message gets
// the UIDL through its marker line and the received time on its From_
// line, and that a source spool read back gives both again.
func TestImportKeepsUIDLAndReceivedTime(t *testing.T) {
	m, dir := newTestStore(t)
	received := time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)
	msg := []byte("Subject: old\n\nFrom the old server\n")
	if err := m.Import(context.Background(), "alice", storage.Envelope{Sender: "bob@example.org", Received: received}, "h0123abcd", bytes.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "alice")
	b, err := os.ReadFile(spool)
	if err != nil {
		t.Fatal(err)
	}
	if want := "From bob@example.org Mon Mar  4 05:06:07 2019\n" + markerPrefix + "h0123abcd;"; !strings.HasPrefix(string(b), want) {
		t.Errorf("spool starts %q, want %q", b, want)
	}
	s, err := OpenSource(context.Background(), spool)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Messages(); len(got) != 1 || got[0].UID != "h0123abcd" {
		t.Fatalf("source lists %v", got)
	}
	if rt, _ := s.Received(0); !rt.Equal(received) {
		t.Errorf("Received = %v, want %v", rt, received)
	}
	r, _ := s.Open(context.Background(), 0)
	content, _ := io.ReadAll(r)
	if !bytes.Equal(content, msg) {
		t.Errorf("content %q, want %q", content, msg)
	}
}

// TestSourceIsReadOnly checks that a spool opened as a migration source
// gets no key, no UIDL list and no lock file, and is not changed.
func TestSourceIsReadOnly(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "alice")
	data := "From a@example.net Sat Jan  1 00:00:00 2000\nX-UIDL: dovecot-1\nSubject: one\n\nbody\n\n" +
		"From a@example.net Sun Jan  2 00:00:00 2000\nSubject: two\n\n>From quoted\n\n"
	if err := os.WriteFile(spool, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSource(context.Background(), spool)
	if err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 2 || msgs[0].UID != "dovecot-1" || !strings.HasPrefix(msgs[1].UID, "h") {
		t.Errorf("UIDLs %v, want dovecot-1 and a content hash", msgs)
	}
	if rt, _ := s.Received(1); !rt.Equal(time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Received(1) = %v", rt)
	}
	s.Close()
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, []string{"alice"}) {
		t.Errorf("directory has %q, want only the spool", got)
	}
	if b, _ := os.ReadFile(spool); string(b) != data {
		t.Errorf("spool changed")
	}
}
