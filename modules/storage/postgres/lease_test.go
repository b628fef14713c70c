package postgres

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
)

// TestShortSessionNoRenewer checks that a session costs no goroutine for
// its lease renewals until the first one is due (a third of lease_time):
// most POP3 sessions end long before.
func TestShortSessionNoRenewer(t *testing.T) {
	p := newStore(t, pgtest.DSN(t), 0)
	md, err := p.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	buf := make([]byte, 1<<20)
	stacks := buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(stacks, []byte("\n\n")) {
		if strings.Contains(string(g), "postgres.(*maildrop).renew") {
			t.Fatalf("a goroutine waits to renew the lease of a session that just began:\n%s", g)
		}
	}
}
