package storagetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// invalidUsers are user names no store may turn into a location.
var invalidUsers = []struct {
	name string
	user string
}{
	{"empty", ""},
	{"dot", "."},
	{"dot dot", ".."},
	{"parent", "../alice@example.com"},
	{"slash", "a/b"},
	{"absolute", "/etc/passwd"},
	{"backslash", `a\b`},
	{"nul", "alice\x00@example.com"},
	{"newline", "alice\n@example.com"},
	{"carriage return", "alice\r"},
	{"escape", "\x1b[31malice"},
	{"del", "alice\x7f"},
	{"tab", "al\tice"},
	{"invalid utf-8", "al\xffice"},
}

// testInvalidUsers checks that Open and Deliver refuse unsafe user names
// with storage.ErrInvalidUser.
func (s suite) testInvalidUsers(t *testing.T) {
	f, d := s.fixture(t)
	ctx := context.Background()
	for _, tt := range invalidUsers {
		t.Run(tt.name, func(t *testing.T) {
			md, err := f.Store.Open(ctx, tt.user)
			if err == nil {
				md.Close()
			}
			expectErr(t, "Open", err, storage.ErrInvalidUser)
			err = d.Deliver(ctx, tt.user, storage.Envelope{}, bytes.NewReader([]byte("Subject: x\n\nx\n")))
			expectErr(t, "Deliver", err, storage.ErrInvalidUser)
		})
	}
}

// testEmptyMaildrop checks that a maildrop that was never written to
// opens as an empty one, and can be committed and closed.
func (s suite) testEmptyMaildrop(t *testing.T) {
	f, _ := s.fixture(t)
	for range 2 {
		md := open(t, f.Store, alice)
		if n := len(md.Messages()); n != 0 {
			t.Fatalf("new maildrop has %d messages, want 0", n)
		}
		if err := md.Commit(context.Background(), nil); err != nil {
			t.Fatalf("Commit of an empty maildrop: %v", err)
		}
	}
	md := open(t, f.Store, bob)
	if err := md.Close(); err != nil {
		t.Fatalf("Close of an empty maildrop: %v", err)
	}
}
