package pop3server

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
)

// TestParseCommandAllocatesNothing: the session loop parses every command
// line; the arguments are kept in the command itself.
func TestParseCommandAllocatesNothing(t *testing.T) {
	for _, line := range []string{"STAT", "RETR 17", "TOP 17 10", "uidl 3", "PASS a b c d", "APOP  u   0123456789abcdef0123456789abcdef "} {
		b := []byte(line)
		if n := testing.AllocsPerRun(100, func() { _, _ = parseCommand(b) }); n != 0 {
			t.Errorf("parseCommand(%q): %v allocations", line, n)
		}
	}
}

// TestCommandRepliesAllocateNothing: STAT, LIST and UIDL build their
// lines in the reply buffer, and RETR's status line is built on the stack,
// so that the only allocation of a RETR is the store's reader.
func TestCommandRepliesAllocateNothing(t *testing.T) {
	store := memstore.New()
	for i := range 1000 {
		store.Add("u", "Subject: "+strconv.Itoa(i)+"\n\n"+strings.Repeat("body\n", i%50))
	}
	drop, err := store.Open(context.Background(), "u")
	if err != nil {
		t.Fatal(err)
	}
	defer drop.Close()
	srv := New(Config{Hostname: "test.example", Store: store, Auth: memAuth{}})
	s := &Session{srv: srv, r: bufio.NewReader(strings.NewReader("")), w: newReplyWriter(io.Discard), state: stateTransaction, drop: drop}
	s.msgs = drop.Messages()
	s.deleted = make([]bool, len(s.msgs))
	s.deleted[3] = true
	s.nDeleted, s.delSize = 1, s.msgs[3].Size
	ctx := context.Background()
	for _, tc := range []struct {
		line   string
		max    float64
		pooled bool // takes writeMessage's buffer from a sync.Pool
	}{
		{"STAT", 0, false},
		{"LIST", 0, false},
		{"UIDL", 0, false},
		{"LIST 999", 0, false},
		{"UIDL 1000", 0, false},
		{"RETR 7", 1, true}, // memstore's reader
		{"TOP 9 2", 1, true},
	} {
		cmd, err := parseCommand([]byte(tc.line))
		if err != nil {
			t.Fatal(err)
		}
		spec := commands[cmd.name]
		n := testing.AllocsPerRun(50, func() {
			if err := spec.run(s, ctx, cmd); err != nil {
				t.Fatal(err)
			}
			// The reply buffer is kept (no idle): under the race
			// detector the pool would drop it at random.
			if err := s.w.Flush(); err != nil {
				t.Fatal(err)
			}
		})
		// Under the race detector sync.Pool drops items at random, so
		// a pooled buffer may be allocated again.
		if n > tc.max && !(raceEnabled && tc.pooled) {
			t.Errorf("%s: %v allocations, want at most %v", tc.line, n, tc.max)
		}
		if s.stats.reply != '+' {
			t.Errorf("%s: reply %q, want +OK", tc.line, s.stats.reply)
		}
	}
}
