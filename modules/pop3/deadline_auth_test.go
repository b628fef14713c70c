package pop3

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddyserver/caddy/v2"
)

// sessionEndBound is how long the tests below wait for the server to end a
// session whose authentication deadline is a second away: far longer than
// the deadline, far shorter than idle_timeout or the handshake timeout
// that bounded it before.
const sessionEndBound = 15 * time.Second

// waitNoConnections waits, at most sessionEndBound, until the test
// server's registry counts no connection, and fails the test otherwise.
func waitNoConnections(t *testing.T, ts *testServer, why string) {
	t.Helper()
	deadline := time.Now().Add(sessionEndBound)
	for time.Now().Before(deadline) {
		if total, _, _ := ts.h.Limits.conns.Counts(); total == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	total, _, _ := ts.h.Limits.conns.Counts()
	t.Fatalf("%s: %d connection(s) still open %v after the authentication deadline", why, total, sessionEndBound)
}

// dialRaw connects to the test server without reading anything.
func dialRaw(t *testing.T, ts *testServer) *net.TCPConn {
	t.Helper()
	conn, err := net.Dial("tcp", ts.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.(*net.TCPConn)
}

// TestAuthTimeoutBoundsWrites: a client that pipelines CAPA without end and
// never reads is disconnected at the authentication deadline, not held for
// idle_timeout by its blocked replies.
func TestAuthTimeoutBoundsWrites(t *testing.T) {
	ts := newTestServer(t, withLimits(Limits{AuthTimeout: caddy.Duration(time.Second)}))
	conn := dialRaw(t, ts)
	_ = conn.SetReadBuffer(4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		batch := []byte(strings.Repeat("CAPA\r\n", 1000))
		_ = conn.SetWriteDeadline(time.Now().Add(sessionEndBound + 5*time.Second))
		for {
			if _, err := conn.Write(batch); err != nil {
				return
			}
		}
	}()
	waitNoConnections(t, ts, "client that never reads")
	conn.Close()
	<-done
}

// TestSTLSKeepsAuthDeadline: a client that sends STLS and then stalls in
// the handshake is closed at its authentication deadline; STLS does not
// give it a fresh handshake timeout.
func TestSTLSKeepsAuthDeadline(t *testing.T) {
	ts := newTestServer(t, withSTLS(t), withLimits(Limits{AuthTimeout: caddy.Duration(time.Second)}))
	c := ts.dial(t)
	pop3test.ExpectPrefix(t, "STLS", c.Cmd("STLS"), "+OK")
	// No ClientHello follows.
	waitNoConnections(t, ts, "client stalled after STLS")
}

// TestRepliesNotHeldByPartialLine: the replies to complete pipelined
// commands go out even when the start of the next line is buffered.
func TestRepliesNotHeldByPartialLine(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial(t)
	c.Send("USER alice\r\nUSER bob\r\nUS")
	c.SetTimeout(5 * time.Second)
	pop3test.ExpectPrefix(t, "first USER", c.ReadLine(), "+OK")
	pop3test.ExpectPrefix(t, "second USER", c.ReadLine(), "+OK")
	c.SetTimeout(pop3test.DefaultTimeout)
	c.Send("ER alice\r\n")
	pop3test.ExpectPrefix(t, "completed USER", c.ReadLine(), "+OK")
}

// TestAuthTimeoutFarewell: a client that reads but never logs in is told
// why it is disconnected when its authentication deadline passes.
func TestAuthTimeoutFarewell(t *testing.T) {
	ts := newTestServer(t, withLimits(Limits{AuthTimeout: caddy.Duration(time.Second)}))
	c := ts.dial(t)
	pop3test.ExpectPrefix(t, "farewell", c.ReadLine(), "-ERR [SYS/TEMP] Disconnected for inactivity")
	waitNoConnections(t, ts, "client past its authentication deadline")
}
