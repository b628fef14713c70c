package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestArenaReuse checks that the content buffer of a session (its arena,
// reused by later sessions) is never handed on while a reader of it is
// open, and that nothing can be read from a closed reader: a reader kept
// open across its session's end still gives its own user's exact
// content after other users' sessions ran, a message opened after the
// session ended is exact, and a read after Close fails.
func TestArenaReuse(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	p.cache = nil // every session reads its content from the database
	ctx := context.Background()
	want := map[string][][32]byte{}
	users := []string{"alice@example.com", "bob@example.com", "carol@example.com"}
	for _, u := range users {
		for n := range 6 {
			msg := fmt.Appendf(nil, "Subject: %s %d\n\n%s\n", u, n, bytes.Repeat([]byte(u[:1]), 3000+n))
			if err := p.Deliver(ctx, u, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// What each message reads as, from a plain session.
	for _, u := range users {
		md, err := p.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for i := range md.Messages() {
			want[u] = append(want[u], sha256.Sum256(readMessage(t, md, i)))
		}
		md.Close()
	}
	check := func(u string, i int, got []byte) {
		t.Helper()
		if sha256.Sum256(got) != want[u][i] {
			t.Errorf("%s message %d: %d bytes that are not its content: %.40q", u, i, len(got), got)
		}
	}

	a, err := p.Open(ctx, users[0])
	if err != nil {
		t.Fatal(err)
	}
	if a.(*maildrop).arena == nil {
		t.Fatal("the login fetched no content into an arena")
	}
	open, err := a.Open(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Other sessions run (and take arenas from the pool) while a's
	// reader is open.
	for range 3 {
		for _, u := range users[1:] {
			md, err := p.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			for i := range md.Messages() {
				check(u, i, readMessage(t, md, i))
			}
			md.Commit(ctx, nil)
		}
	}
	got, err := io.ReadAll(open)
	if err != nil {
		t.Fatal(err)
	}
	check(users[0], 2, got)
	if err := open.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := open.Read(make([]byte, 10)); n != 0 || !errors.Is(err, errClosed) {
		t.Errorf("Read after Close: %d, %v; want 0, errClosed", n, err)
	}
	// a's arena is back in the pool; a message of a opened now is read
	// from the database, exact.
	if a.(*maildrop).arena != nil {
		t.Error("the arena of an ended session with no open reader was not given back")
	}
	for _, u := range users[1:] {
		md, err := p.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		late, err := a.Open(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(late)
		late.Close()
		if err != nil {
			t.Fatal(err)
		}
		check(users[0], 3, got)
		for i := range md.Messages() {
			check(u, i, readMessage(t, md, i))
		}
		md.Close()
	}
}
