package postgres

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestImportKeepsReceivedTime checks that an imported row has the given
// UIDL and received time.
func TestImportKeepsReceivedTime(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	received := time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := p.Import(context.Background(), "alice@example.com", storage.Envelope{Received: received}, "0000000a5f00beef", bytes.NewReader([]byte("Subject: x\n\ny\n"))); err != nil {
		t.Fatal(err)
	}
	var got time.Time
	err := p.pool.QueryRow(context.Background(), `SELECT received FROM pop3_messages WHERE uidl = $1`, "0000000a5f00beef").Scan(&got)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(received) {
		t.Errorf("received %v, want %v", got, received)
	}
}
