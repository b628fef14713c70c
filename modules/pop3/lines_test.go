package pop3

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func TestMaxLineLength(t *testing.T) {
	// "USER " + name + CRLF: 255 octets is the longest line RFC 2449 allows.
	longest := "USER " + strings.Repeat("a", 255-len("USER \r\n"))
	for _, tc := range []struct {
		name   string
		limits Limits
		line   string
		want   string
	}{
		{"255 octets", Limits{}, longest, "+OK"},
		{"256 octets", Limits{}, longest + "a", "-ERR line too long"},
		{"raised limit", Limits{MaxLineLength: 1000}, "USER " + strings.Repeat("b", 900), "+OK"},
		{"over the read buffer", Limits{MaxLineLength: 4000}, "USER " + strings.Repeat("c", 3000), "+OK"},
		{"long AUTH line", Limits{}, "AUTH PLAIN " + strings.Repeat("A", 4000), "-ERR"},
		{"AUTH over its own limit", Limits{}, "AUTH PLAIN " + strings.Repeat("A", DefaultMaxAuthLineLength), "-ERR line too long"},
		{"huge line", Limits{}, "USER " + strings.Repeat("d", 1<<20), "-ERR line too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withLimits(tc.limits))
			c := ts.dial(t)
			got := c.Cmd(tc.line)
			pop3test.ExpectPrefix(t, "reply", got, tc.want)
			if tc.want == "-ERR" && strings.Contains(got, "too long") {
				t.Errorf("an AUTH line within max_auth_line_length was refused as too long: %q", got)
			}
			pop3test.ExpectPrefix(t, "next command", c.Cmd("CAPA"), "+OK")
			c.Multi()
		})
	}
}

func TestLongLineAssembly(t *testing.T) {
	// A line over the read buffer comes back whole, and the next short
	// line is parsed in place again.
	ts := newTestServer(t, withLimits(Limits{MaxLineLength: 5000}))
	c := ts.dial(t)
	name := strings.Repeat("x", 2*pop3server.ReadBufferSize+17)
	c.Send("USER " + name + "\r\nPASS wrong\r\nUSER alice\r\nPASS secret pw\r\n")
	pop3test.ExpectPrefix(t, "long USER", c.ReadLine(), "+OK")
	pop3test.ExpectPrefix(t, "PASS", c.ReadLine(), "-ERR [AUTH]")
	pop3test.ExpectPrefix(t, "USER", c.ReadLine(), "+OK")
	pop3test.ExpectPrefix(t, "PASS", c.ReadLine(), "+OK")
}

func TestOverlongLinesDisconnect(t *testing.T) {
	ts := newTestServer(t, withLimits(Limits{MaxErrors: 3}))
	c := ts.dial(t)
	junk := strings.Repeat("z", 10000) + "\r\n"
	c.Send(junk + junk + junk)
	for range 2 {
		pop3test.ExpectPrefix(t, "over-long line", c.ReadLine(), "-ERR line too long")
	}
	pop3test.ExpectPrefix(t, "closing", c.ReadLine(), "-ERR line too long"+pop3server.ReplyTooManyErrors)
	if _, err := c.Reader().ReadByte(); err == nil {
		t.Error("connection still open")
	}
}

// lineSource produces a line of n octets of 'a' without holding it in
// memory, then the rest.
type lineSource struct {
	n    int
	rest *strings.Reader
}

func (l *lineSource) Read(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		for i := range k {
			p[i] = 'a'
		}
		l.n -= k
		return k, nil
	}
	return l.rest.Read(p)
}

// TestHugeLineNotBuffered feeds a 64 MiB line to a session and checks that
// the session allocates a small, fixed amount for it.
func TestHugeLineNotBuffered(t *testing.T) {
	h := &Handler{
		Hostname:    "test.example",
		IdleTimeout: caddy.Duration(DefaultIdleTimeout),
		store:       memstore.New(),
		auth:        memAuth{},
		logger:      zap.NewNop(),
		Limits:      Limits{conns: guard.NewConns(), failures: guard.NewFailures(8)},
	}
	var out bytes.Buffer
	conn := &scriptConn{r: &lineSource{n: 64 << 20, rest: strings.NewReader("\r\nQUIT\r\n")}, w: &out, max: 1 << 20}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h.server().ServeConn(context.Background(), conn, false, true)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("a 64 MiB line made the session allocate %d bytes", got)
	}
	if !strings.Contains(out.String(), "-ERR line too long\r\n+OK Logging out\r\n") {
		t.Errorf("output: %q", out.String())
	}
}

// trickle sends s one byte at a time, every interval, until it is all
// sent or the connection fails; it returns when done.
func trickle(conn net.Conn, s string, interval time.Duration) {
	for i := range len(s) {
		if _, err := conn.Write([]byte{s[i]}); err != nil {
			return
		}
		time.Sleep(interval)
	}
}

// TestSlowLoris: a client that keeps sending a byte now and then, but
// never a whole line in time, is disconnected: the deadline is per line,
// not per byte. Before login the connection's auth deadline applies; after
// login, idle_timeout per line.
func TestSlowLoris(t *testing.T) {
	for _, tc := range []struct {
		name   string
		login  bool
		limits Limits
	}{
		{"before login", false, Limits{AuthTimeout: caddy.Duration(time.Second)}},
		{"after login", true, Limits{AuthTimeout: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withLimits(tc.limits), func(ts *testServer) { ts.h.IdleTimeout = caddy.Duration(500 * time.Millisecond) })
			ts.store.Add("alice", "x\n")
			c := ts.dial(t)
			if tc.login {
				c.Login("alice", "secret pw")
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				// 10 seconds' worth of bytes, far past either deadline.
				trickle(c.Conn(), strings.Repeat("N", 200), 50*time.Millisecond)
			}()
			pop3test.ExpectPrefix(t, "disconnect", c.ReadLine(), "-ERR [SYS/TEMP] Disconnected for inactivity")
			if _, err := c.Reader().ReadByte(); err != io.EOF {
				t.Errorf("after the timeout: %v, want EOF", err)
			}
			c.Conn().Close()
			<-done
		})
	}
}

// TestStalledReaderDisconnected: a client that stops reading in the middle
// of a large message is disconnected when a write makes no progress for
// idle_timeout; its maildrop is released and nothing is deleted.
func TestStalledReaderDisconnected(t *testing.T) {
	ts := newTestServer(t, withLimits(Limits{}), func(ts *testServer) { ts.h.IdleTimeout = caddy.Duration(300 * time.Millisecond) })
	// 32 MiB: more than loopback socket buffers hold.
	big := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 1<<19)
	ts.store.Add("alice", big, "small\n")
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	pop3test.ExpectPrefix(t, "DELE 2", c.Cmd("DELE 2"), "+OK")
	c.Send("RETR 1\r\n")
	// Read nothing more: the server must give up on its own.
	waitFor(t, "the stalled session released the maildrop", func() bool {
		return !ts.store.Locked("alice")
	})
	if n := ts.store.Count("alice"); n != 2 {
		t.Errorf("%d messages left, want 2: a stalled session deletes nothing", n)
	}
}
