package postgres

import (
	"bytes"
	"context"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestSmallContentInline checks that the content of a small message
// stays in pop3_chunks itself (schema version 2): nothing of it goes to
// the TOAST table, so reading it costs one row.
func TestSmallContentInline(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	msg := append([]byte("Subject: inline\n\n"), bytes.Repeat([]byte("0123456789abcde\n"), 7000/16)...)
	for range 10 {
		if err := p.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	var toast int64
	if err := p.pool.QueryRow(context.Background(), `SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'pop3_chunks'`).Scan(&toast); err != nil {
		t.Fatal(err)
	}
	if toast != 0 {
		t.Errorf("the TOAST table of pop3_chunks has %d bytes after ten %d-byte messages, want 0", toast, len(msg))
	}
	md, err := p.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	for i := range md.Messages() {
		if got := readMessage(t, md, i); !bytes.Equal(got, msg) {
			t.Fatalf("message %d: %d bytes, want the %d delivered", i, len(got), len(msg))
		}
	}
}
