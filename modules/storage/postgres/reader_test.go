package postgres

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestReadVanishing removes a multi-chunk message while it is being
// read: the reader fails with an error, it never ends early as if the
// message were shorter. Closing a reader in the middle stops its fetcher
// (TestMain checks for goroutines left behind).
func TestReadVanishing(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	for range 2 {
		if err := p.Deliver(context.Background(), alice, storage.Envelope{}, newBigMessage(4*chunkSize+100)); err != nil {
			t.Fatal(err)
		}
	}
	md, err := p.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()

	half, err := md.Open(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(half, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	half.Close() // mid-message

	r, err := md.Open(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	exec(t, p, `DELETE FROM pop3_messages WHERE id = $1`, md.(*maildrop).entries[0].id)
	n, err := io.Copy(io.Discard, r)
	if err == nil {
		t.Fatalf("reading a message removed mid-read ended cleanly after %d more bytes", n)
	}
	if !errors.Is(err, errVanished) {
		t.Errorf("error %v, want errVanished", err)
	}
	if _, err := md.Open(context.Background(), 0); err == nil {
		t.Error("Open of a removed message succeeded")
	}
}
