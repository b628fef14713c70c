package postgres

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestPrefetchOrder reads a maildrop of small, large and empty messages
// in and out of order, twice each: every read gives exactly the message
// asked for, whatever was fetched ahead.
func TestPrefetchOrder(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	sizes := []int{100, 5000, 300 << 10, 70 << 10, 0, 64 << 10, 10, 200 << 10, 1}
	var msgs [][]byte
	for i, n := range sizes {
		var m []byte
		if n > 0 {
			m = fmt.Appendf(nil, "Subject: %d\n\n", i)
			m = append(m, bytes.Repeat([]byte{byte('a' + i)}, n)...)
		}
		msgs = append(msgs, m)
		if err := p.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	md, err := p.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8}, {8, 6, 0, 1, 1, 5, 3, 2, 4, 7, 0}} {
		for _, i := range order {
			if got := readMessage(t, md, i); !bytes.Equal(got, msgs[i]) {
				t.Errorf("order %v: message %d: %d bytes, want %d", order, i, len(got), len(msgs[i]))
			}
		}
	}
}
