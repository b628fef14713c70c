package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestContentCacheGenerations checks the cache's bookkeeping: what is
// put is got back, content whose digest is not its SHA-256 or that is not
// small is refused, the bytes held never exceed the budget, and what is
// used survives the turn of a generation while what is not is dropped.
func TestContentCacheGenerations(t *testing.T) {
	msg := func(n int) ([]byte, digest) {
		b := fmt.Appendf(nil, "%05d%s", n, bytes.Repeat([]byte{'x'}, 995))
		return b, sha256.Sum256(b)
	}
	c := newContentCache(8800) // two generations of 4 messages
	held := func() int64 {
		var n int64
		for _, m := range []map[digest][]byte{c.cur, c.old} {
			for _, b := range m {
				n += int64(len(b)) + entryOverhead
			}
		}
		return n
	}
	b0, d0 := msg(0)
	if kept := c.put(&d0, b0); !bytes.Equal(kept, b0) {
		t.Fatalf("put: %q", kept)
	}
	if got, ok := c.get(&d0); !ok || !bytes.Equal(got, b0) {
		t.Fatalf("get after put: %v %q", ok, got)
	}
	other, _ := msg(1)
	if c.put(&d0, other) != nil {
		t.Error("content kept under a digest that is not its SHA-256")
	}
	if got, _ := c.get(&d0); !bytes.Equal(got, b0) {
		t.Error("a refused put changed what is held")
	}
	big := bytes.Repeat([]byte{'b'}, smallMessage+1)
	dbig := sha256.Sum256(big)
	if c.put(&dbig, big) != nil {
		t.Error("a message that is not small was kept")
	}
	// Message 0 is used at every turn; the others are put once each.
	for n := 1; n < 40; n++ {
		b, d := msg(n)
		c.put(&d, b)
		if _, ok := c.get(&d0); !ok {
			t.Fatalf("message 0, used all along, was dropped after %d puts", n)
		}
		if h := held(); h > c.budget {
			t.Fatalf("%d bytes held, budget %d", h, c.budget)
		}
	}
	if _, d := msg(1); c.has(&d) {
		t.Error("message 1, never used again, is still held after 39 puts")
	}
	if _, d := msg(39); !c.has(&d) {
		t.Error("the last message put is not held")
	}
	c.setBudget(0)
	if c.has(&d0) || c.put(&d0, b0) != nil {
		t.Error("a cache of budget 0 holds content")
	}
}

// TestContentCacheHints checks that the hints are kept per user, are
// never nil, and are bounded in number of users.
func TestContentCacheHints(t *testing.T) {
	c := newContentCache(DefaultContentCacheSize)
	if h := c.hintOf("nobody"); h == nil || len(h) != 0 {
		t.Errorf("hint of an unknown user: %#v, want empty", h)
	}
	ids := []int64{3, 5, 8}
	c.setHint("alice", ids)
	ids[0] = 99 // the caller's slice is not the one held
	if h := c.hintOf("alice"); fmt.Sprint(h) != "[3 5 8]" {
		t.Errorf("hint of alice: %v", h)
	}
	for n := range 3 * maxHintUsers {
		c.setHint(fmt.Sprint("u", n), []int64{int64(n)})
	}
	if n := len(c.hints) + len(c.oldHints); n > 2*maxHintUsers {
		t.Errorf("%d users' hints held, at most %d", n, 2*maxHintUsers)
	}
	if h := c.hintOf("alice"); len(h) != 0 {
		t.Errorf("alice's hint survived %d other users: %v", 3*maxHintUsers, h)
	}
}

// deliverSmall delivers n messages of about 4 KiB to user and returns
// their content in order; tag makes them differ from other calls'.
func deliverSmall(t *testing.T, p *Postgres, user, tag string, n int) [][]byte {
	t.Helper()
	var msgs [][]byte
	for i := range n {
		msg := fmt.Appendf(nil, "Message-ID: <%s.%d@example.com>\r\nSubject: %s %d\r\n\r\n%s\r\n", tag, i, tag, i, bytes.Repeat([]byte(tag[:1]), 4000))
		if err := p.Deliver(context.Background(), user, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, msg)
	}
	return msgs
}

// readAll opens user's maildrop on p, reads every message, checks each
// against want, releases the maildrop and returns how many content rows
// of small messages p read from the database meanwhile.
func readAll(t *testing.T, p *Postgres, user string, want [][]byte) int64 {
	t.Helper()
	before := p.shipped.Load()
	md, err := p.Open(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if n := len(md.Messages()); n != len(want) {
		t.Fatalf("%s: %d messages, want %d", user, n, len(want))
	}
	for i := range want {
		if got := readMessage(t, md, i); !bytes.Equal(got, want[i]) {
			t.Fatalf("%s message %d: got %d bytes %.60q, want %.60q", user, i, len(got), got, want[i])
		}
	}
	return p.shipped.Load() - before
}

// TestContentCacheServesAgain checks that a session that retrieves the
// messages a previous session of the node retrieved gets them, byte for
// byte, without the database shipping their content, while another node
// (a cache of its own) and a store with the cache off read them from the
// database.
func TestContentCacheServesAgain(t *testing.T) {
	a, b := twoNodes(t, 0)
	want := deliverSmall(t, a, alice, "a", 20)
	if n := readAll(t, a, alice, want); n != 20 {
		t.Errorf("first session: %d content rows read, want 20", n)
	}
	for round := range 3 {
		if n := readAll(t, a, alice, want); n != 0 {
			t.Errorf("session %d after the first: %d content rows read, want 0 (all cached)", round+2, n)
		}
	}
	if n := readAll(t, b, alice, want); n != 20 {
		t.Errorf("the other node's first session: %d content rows read, want 20", n)
	}
	off := newStore(t, pgtest.DSN(t), 0)
	off.cache = nil
	wantOff := deliverSmall(t, off, alice, "o", 5)
	for range 2 {
		if n := readAll(t, off, alice, wantOff); n != 5 {
			t.Errorf("cache off: %d content rows read, want 5 every session", n)
		}
	}
	// A delivery after the cached session: only the new message comes
	// from the database.
	want = append(want, deliverSmall(t, a, alice, "n", 1)...)
	if n := readAll(t, a, alice, want); n != 1 {
		t.Errorf("after a delivery: %d content rows read, want 1", n)
	}
}

// TestContentCacheHintEvicted checks that a hint naming messages the
// cache no longer holds costs a round trip, not a wrong answer: the take
// skips their content, and retrieving them reads it from the database.
func TestContentCacheHintEvicted(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	want := deliverSmall(t, p, alice, "a", 20)
	readAll(t, p, alice, want)
	p.cache.setBudget(0) // drops the content, keeps the hint
	p.cache.setBudget(DefaultContentCacheSize)
	if h := p.cache.hintOf(alice); len(h) != 20 {
		t.Fatalf("hint of %d messages, want 20", len(h))
	}
	if n := readAll(t, p, alice, want); n != 20 {
		t.Errorf("evicted: %d content rows read, want 20 (by RETR)", n)
	}
	if n := readAll(t, p, alice, want); n != 0 {
		t.Errorf("cached again: %d content rows read, want 0", n)
	}
}

// TestContentCacheBadDigest checks that content whose stored digest does
// not match it (a damaged digest) and content without a digest (a row
// delivered by an older version) are served from the database, exact,
// and never kept.
func TestContentCacheBadDigest(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	want := deliverSmall(t, p, alice, "a", 4)
	mb := mailboxOf(t, p, alice)
	exec(t, p, `UPDATE pop3_messages SET digest = sha256('something else') WHERE id = (SELECT min(id) FROM pop3_messages WHERE mailbox_id = $1)`, mb)
	exec(t, p, `UPDATE pop3_messages SET digest = NULL WHERE id = (SELECT max(id) FROM pop3_messages WHERE mailbox_id = $1)`, mb)
	for round := range 3 {
		if n := readAll(t, p, alice, want); (round == 0 && n != 4) || (round > 0 && n != 2) {
			t.Errorf("session %d: %d content rows read, want %d", round+1, n, map[bool]int64{true: 4, false: 2}[round == 0])
		}
	}
}

// TestContentCacheTwoDatabases checks that one cache shared by stores on
// two databases, whose messages have the same ids, UIDLs and lengths
// but not the same content, serves each its own (a database recreated
// under a running node, or two sites on one process): the cache is
// addressed by content, not by row. Two users with one identical
// message each share it, and deleting one's copy leaves the other's.
func TestContentCacheTwoDatabases(t *testing.T) {
	shared := newContentCache(DefaultContentCacheSize)
	x := newStore(t, pgtest.DSN(t), 0)
	y := newStore(t, pgtest.DSN(t), 0)
	x.cache, y.cache = shared, shared
	wantX := deliverSmall(t, x, alice, "x", 5)
	wantY := deliverSmall(t, y, alice, "y", 5)
	for range 2 {
		readAll(t, x, alice, wantX)
		readAll(t, y, alice, wantY)
	}
	if n := readAll(t, y, alice, wantY); n != 0 {
		t.Errorf("%d content rows read, want 0", n)
	}
	// The same message for alice and bob in x.
	same := deliverSmall(t, x, "bob@example.com", "x", 1)
	readAll(t, x, "bob@example.com", same)
	if n := len(shared.cur) + len(shared.old); n != 10 {
		t.Errorf("%d contents held, want 10 (bob's message is alice's)", n)
	}
	md, err := x.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := md.Commit(context.Background(), []int{0}); err != nil {
		t.Fatal(err)
	}
	readAll(t, x, "bob@example.com", same)
	readAll(t, x, alice, wantX[1:])
}

// TestContentCacheInWindow checks that messages the content cache holds
// in the middle of a mailbox are not fetched, and that those after them
// are fetched once: messages 40–44 of 60 are in the cache before the
// first login, which reads all 60 in order.
func TestContentCacheInWindow(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	want := deliverSmall(t, p, alice, "w", 60)
	for _, msg := range want[40:45] {
		d := sha256.Sum256(msg)
		if p.cache.put(&d, msg) == nil {
			t.Fatal("the cache refused a message")
		}
	}
	if n := readAll(t, p, alice, want); n != 55 {
		t.Errorf("%d content rows read, want 55 (each message not in the cache once)", n)
	}
}

// TestLoginWindowMatchesTake checks that the node's loginWindow picks
// exactly the messages whose content the login statement fetches ahead
// (takeSQL's window): the node looks in the content cache only for those.
func TestLoginWindowMatchesTake(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	p.cache = nil // every message in the window comes with the login
	sizes := []int{4000, 70000, 60000, 60000, 10000, 3000}
	for i, n := range sizes {
		msg := fmt.Appendf(nil, "Subject: %d\r\n\r\n%s", i, bytes.Repeat([]byte("x"), n))
		if err := p.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	before := p.shipped.Load()
	md, err := p.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	shipped := p.shipped.Load() - before
	var win loginWindow
	var in []int
	for i, e := range md.(*maildrop).entries {
		if win.next(e.octets) {
			in = append(in, i)
		}
	}
	// 4000, then the two of 60000 fit 128 KiB; the big one is not small,
	// and the last two would pass the budget.
	if fmt.Sprint(in) != "[0 2 3]" || shipped != int64(len(in)) {
		t.Errorf("window %v, %d messages fetched with the login; want [0 2 3] and 3", in, shipped)
	}
}
