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

// TestSortByID checks that a snapshot whose rows came out of order is put
// in id order with the content fetched ahead still matching its message.
func TestSortByID(t *testing.T) {
	md := &maildrop{}
	for _, id := range []int64{30, 10, 40, 20} {
		md.msgs = append(md.msgs, storage.Message{UID: fmt.Sprint("pg", id), Size: id})
		md.entries = append(md.entries, entry{id: id, octets: id})
	}
	md.aheadFirst = 1
	md.keep(1, []byte("ten"))
	md.keep(3, []byte("twenty"))
	md.sortByID()
	want := map[int64]string{10: "ten", 20: "twenty"}
	for i, e := range md.entries {
		if i > 0 && md.entries[i-1].id >= e.id {
			t.Fatalf("not sorted: %v", md.entries)
		}
		if md.msgs[i].UID != fmt.Sprint("pg", e.id) {
			t.Errorf("message %d: UIDL %s, entry id %d", i, md.msgs[i].UID, e.id)
		}
		data, ok := md.fetched(i)
		if string(data) != want[e.id] || ok != (want[e.id] != "") {
			t.Errorf("message %d (id %d): fetched %q %v, want %q", i, e.id, data, ok, want[e.id])
		}
	}
}
