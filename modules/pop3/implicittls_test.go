package pop3

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddyserver/caddy/v2"
	"github.com/mholt/caddy-l4/layer4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// withImplicitTLS makes the test server POP3S with the test certificate.
func withImplicitTLS(t *testing.T) func(*testServer) {
	cfg := serverTLS(t)
	return func(ts *testServer) {
		ts.h.implicitTLS = func() *tls.Config { return cfg }
	}
}

// dialTLS connects over TLS and reads the greeting.
func (ts *testServer) dialTLS(t *testing.T) *pop3test.Client {
	t.Helper()
	c := pop3test.DialTLS(t, ts.ln.Addr().String(), clientTLS(t))
	pop3test.ExpectPrefix(t, "greeting", c.Greeting(), "+OK ")
	return c
}

// waitConnections waits, at most sessionEndBound, until the registry
// counts n connections.
func waitConnections(t *testing.T, ts *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(sessionEndBound)
	for time.Now().Before(deadline) {
		if total, _, _ := ts.h.Limits.conns.Counts(); total == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	total, _, _ := ts.h.Limits.conns.Counts()
	t.Fatalf("%d connections counted, want %d", total, n)
}

// TestImplicitTLSSession: the handshake comes first, the session is
// secure (plaintext login allowed off loopback, no STLS offered).
func TestImplicitTLSSession(t *testing.T) {
	ts := newTestServer(t, withImplicitTLS(t), withLimits(Limits{}), func(ts *testServer) { ts.loopback = false })
	ts.store.Add("alice", "Subject: a\n\nbody\n")
	c := ts.dialTLS(t)
	if caps := c.Capa(); hasCapability(caps, "STLS") || !hasCapability(caps, "USER") {
		t.Errorf("CAPA over implicit TLS: %q", caps)
	}
	pop3test.ExpectPrefix(t, "STLS", c.Cmd("STLS"), "-ERR")
	c.Login("alice", "secret pw")
	pop3test.ExpectPrefix(t, "STAT", c.Cmd("STAT"), "+OK 1 ")
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
}

// TestImplicitTLSSilentClientCounted: a client that never sends a
// ClientHello holds a connection slot from its first byte, so it cannot
// open connections past max_connections; the connection over the limit is
// closed without a clear-text reply; and the silent one is closed at its
// authentication deadline.
func TestImplicitTLSSilentClientCounted(t *testing.T) {
	ts := newTestServer(t, withImplicitTLS(t), withLimits(Limits{MaxConnections: 1, AuthTimeout: caddy.Duration(time.Second)}))
	silent := dialRaw(t, ts)
	waitConnections(t, ts, 1)

	over := dialRaw(t, ts)
	_ = over.SetReadDeadline(time.Now().Add(sessionEndBound))
	if b, err := io.ReadAll(over); err != nil || len(b) != 0 {
		t.Errorf("connection over max_connections: read %q, %v; want it closed with nothing sent", b, err)
	}

	waitNoConnections(t, ts, "silent implicit-TLS client")
	_ = silent.SetReadDeadline(time.Now().Add(sessionEndBound))
	if b, err := io.ReadAll(silent); err != nil || len(b) != 0 {
		t.Errorf("silent client: read %q, %v; want the connection closed", b, err)
	}
}

// TestImplicitTLSHandshakeStall: a client that starts a handshake and
// stalls in the middle of it is closed at its authentication deadline.
func TestImplicitTLSHandshakeStall(t *testing.T) {
	ts := newTestServer(t, withImplicitTLS(t), withLimits(Limits{AuthTimeout: caddy.Duration(time.Second)}))
	conn := dialRaw(t, ts)
	// The first bytes of a TLS record header (handshake, TLS 1.0) and
	// then nothing.
	if _, err := conn.Write([]byte{0x16, 0x03, 0x01}); err != nil {
		t.Fatal(err)
	}
	waitConnections(t, ts, 1)
	waitNoConnections(t, ts, "client stalled in the handshake")
}

// TestImplicitTLSBehindTLSHandler: a connection that caddy-l4's tls
// handler already decrypted is served without a second handshake, and the
// handler warns, once, that the tls handler should go.
func TestImplicitTLSBehindTLSHandler(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	ts := newTestServer(t, withImplicitTLS(t), withLimits(Limits{}))
	ts.h.logger = zap.New(core)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := serverTLS(t)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer raw.Close()
				cx := layer4.WrapConnection(raw, nil, zap.NewNop())
				tlsConn := tls.Server(cx, cfg)
				if tlsConn.Handshake() != nil {
					return
				}
				_ = ts.h.Handle(cx.Wrap(tlsConn), nil)
			}()
		}
	}()

	for range 2 {
		conn, err := tls.Dial("tcp", ln.Addr().String(), clientTLS(t))
		if err != nil {
			t.Fatal(err)
		}
		c := pop3test.New(t, conn)
		pop3test.ExpectPrefix(t, "greeting", c.ReadLine(), "+OK")
		pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
		conn.Close()
	}
	var warnings int
	for _, e := range logs.All() {
		if strings.Contains(e.Message, "implicit_tls") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings about the tls handler in front, want 1: %v", warnings, logs.All())
	}
}
