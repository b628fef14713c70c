package pop3

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// transactionRound is a round of valid TRANSACTION commands (none counts
// as an error) and how many response lines it takes.
const transactionRound = "STAT\r\nLIST 1\r\nUIDL 1\r\nNOOP\r\nDELE 1\r\nRSET\r\nTOP 1 0\r\nLIST\r\n"

// readRound reads the responses to one transactionRound.
func readRound(t *testing.T, c *pop3test.Client) {
	t.Helper()
	for range 6 {
		pop3test.ExpectPrefix(t, "reply", c.ReadLine(), "+OK")
	}
	pop3test.ExpectPrefix(t, "TOP", c.ReadLine(), "+OK")
	c.Multi()
	pop3test.ExpectPrefix(t, "LIST", c.ReadLine(), "+OK")
	c.Multi()
}

// TestSessionMemoryFlat: what a live session keeps does not grow with the
// number of commands it has served.
func TestSessionMemoryFlat(t *testing.T) {
	ts := newTestServer(t, withLimits(Limits{}))
	ts.store.Add("alice", "Subject: x\n\nhello\n", "Subject: y\n\nworld\n")
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	rounds := func(n int) {
		for range n {
			c.Send(transactionRound)
			readRound(t, c)
		}
	}
	rounds(100)
	before := heapInUse()
	rounds(5000) // 40,000 commands
	after := heapInUse()
	const slack = 256 << 10
	if after > before+slack {
		t.Errorf("the live heap grew by %d bytes over 40,000 commands in one session (allowed %d)", after-before, slack)
	}
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
}

// TestSessionAllocationsPerCommand: a session's allocations per command are
// a small constant, whatever the number of commands.
func TestSessionAllocationsPerCommand(t *testing.T) {
	mallocs := func(rounds int) uint64 {
		store := memstore.New()
		store.Add("alice", "Subject: x\n\nhello\n", "Subject: y\n\nworld\n")
		h := &Handler{
			Hostname:    "test.example",
			IdleTimeout: caddy.Duration(DefaultIdleTimeout),
			store:       store,
			auth:        memAuth{"alice": "secret pw"},
			logger:      zap.NewNop(),
			Limits:      Limits{conns: guard.NewConns(), failures: guard.NewFailures(8), logins: guard.NewLogins()},
		}
		input := "USER alice\r\nPASS secret pw\r\n" + strings.Repeat(transactionRound, rounds) + "QUIT\r\n"
		conn := &scriptConn{r: strings.NewReader(input)}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h.server().ServeConn(context.Background(), conn, false, true)
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	small, large := mallocs(100), mallocs(1100)
	perCommand := float64(large-small) / (1000 * 8)
	t.Logf("%.2f allocations per command", perCommand)
	if perCommand > 8 {
		t.Errorf("%.2f allocations per command", perCommand)
	}
}

// TestStalledReaderBounded: a session sending a large message to a client
// that does not read holds a bounded amount of memory (its buffers), not
// the message.
func TestStalledReaderBounded(t *testing.T) {
	ts := newTestServer(t, withLimits(Limits{}))
	// The message is built before measuring: the store holds it anyway.
	ts.store.Add("alice", strings.Repeat("x", 79)+"\n"+strings.Repeat(strings.Repeat("y", 79)+"\n", 1<<18)) // 20 MiB
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	before := heapInUse()
	c.Send("RETR 1\r\n")
	// Give the server time to fill the socket buffers and block. (Were
	// it slower, the check below would only be weaker, never wrong.)
	time.Sleep(300 * time.Millisecond)
	during := heapInUse()
	const slack = 2 << 20
	if during > before+slack {
		t.Errorf("the live heap grew by %d bytes while a 20 MiB message waited for a stalled reader", during-before)
	}
	// Read it all: the session still works.
	c.SetTimeout(30 * time.Second)
	pop3test.ExpectPrefix(t, "RETR", c.ReadLine(), "+OK")
	if body := c.Multi(); !bytes.HasPrefix([]byte(body), []byte("xxx")) {
		t.Errorf("RETR body starts %q", body[:10])
	}
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
}
