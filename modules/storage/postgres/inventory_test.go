package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/mail"
	"sync"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// inventory is the test's record of the mail it delivered, by Message-ID:
// the SHA-256 of each message, and which ones a committed session deleted.
// check compares it with what the store holds.
type inventory struct {
	mu        sync.Mutex
	user      string
	delivered map[string][32]byte
	deleted   map[string]bool
	n         int
}

func newInventory(user string) *inventory {
	return &inventory{user: user, delivered: map[string][32]byte{}, deleted: map[string]bool{}}
}

// message makes a new message with a unique Message-ID.
func (inv *inventory) message(tag string) (id string, msg []byte) {
	inv.mu.Lock()
	inv.n++
	n := inv.n
	inv.mu.Unlock()
	id = fmt.Sprintf("<%s.%d@inventory.test>", tag, n)
	msg = fmt.Appendf(nil, "Message-ID: %s\nSubject: %s %d\n\nbody of %s\n%s\n", id, tag, n, id, bytes.Repeat([]byte{'x'}, n%300))
	return id, msg
}

// deliver delivers a new message through d and records it when Deliver
// succeeded. It returns the error.
func (inv *inventory) deliver(d storage.Deliverer, tag string) error {
	id, msg := inv.message(tag)
	err := d.Deliver(context.Background(), inv.user, storage.Envelope{}, bytes.NewReader(msg))
	if err == nil {
		inv.mu.Lock()
		inv.delivered[id] = sha256.Sum256(msg)
		inv.mu.Unlock()
	}
	return err
}

// markDeleted records that a successful Commit deleted the messages with
// these Message-IDs.
func (inv *inventory) markDeleted(ids []string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for _, id := range ids {
		inv.deleted[id] = true
	}
}

// messageID reads the Message-ID of msg.
func messageID(t testing.TB, msg []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("message does not parse: %v: %q", err, msg)
	}
	return m.Header.Get("Message-ID")
}

// readMessage reads message i of md whole.
func readMessage(t testing.TB, md storage.Maildrop, i int) []byte {
	t.Helper()
	r, err := md.Open(context.Background(), i)
	if err != nil {
		t.Fatalf("Open(%d): %v", i, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading message %d: %v", i, err)
	}
	return b
}

// commitFirst deletes the first message of md with a commit that must
// succeed (the session that holds the lease), records it in inv, and
// checks through s that want messages are left.
func (inv *inventory) commitFirst(t testing.TB, md storage.Maildrop, s storage.Store, want int) {
	t.Helper()
	first := messageID(t, readMessage(t, md, 0))
	if err := md.Commit(context.Background(), []int{0}); err != nil {
		t.Fatal(err)
	}
	inv.markDeleted([]string{first})
	if n := inv.check(t, s, false); n != want {
		t.Errorf("%d messages, want %d", n, want)
	}
}

// check opens the maildrop through s and asserts: every message stored
// was delivered by the test, byte for byte, once; every message delivered
// and not deleted by a successful commit is stored; nothing deleted by a
// commit is still there (with deletedMayRemain false). It returns the
// number of messages stored.
func (inv *inventory) check(t testing.TB, s storage.Store, deletedMayRemain bool) int {
	t.Helper()
	md, err := s.Open(context.Background(), inv.user)
	if err != nil {
		t.Fatalf("inventory: Open: %v", err)
	}
	defer md.Close()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	seen := map[string]bool{}
	var lost, dup, corrupt, foreign, undeleted int
	for i := range md.Messages() {
		msg := readMessage(t, md, i)
		id := messageID(t, msg)
		want, ok := inv.delivered[id]
		switch {
		case !ok:
			foreign++
			t.Errorf("inventory: stored message %s was never delivered", id)
		case seen[id]:
			dup++
			t.Errorf("inventory: message %s stored twice", id)
		case sha256.Sum256(msg) != want:
			corrupt++
			t.Errorf("inventory: message %s is corrupted", id)
		case inv.deleted[id] && !deletedMayRemain:
			undeleted++
			t.Errorf("inventory: message %s was deleted by a commit and is still there", id)
		}
		seen[id] = true
	}
	for id := range inv.delivered {
		if !seen[id] && !inv.deleted[id] {
			lost++
			t.Errorf("inventory: message %s is lost", id)
		}
	}
	t.Logf("inventory: %d delivered, %d deleted by commits, %d stored; lost %d, duplicated %d, corrupted %d, foreign %d, wrongly kept %d",
		len(inv.delivered), len(inv.deleted), len(md.Messages()), lost, dup, corrupt, foreign, undeleted)
	return len(md.Messages())
}
