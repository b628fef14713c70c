package pop3

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
)

// testServer serves sessions of a Handler with an in-memory store on a
// loopback listener.
type testServer struct {
	h        *Handler
	store    *memstore.Store
	ln       net.Listener
	loopback bool // what the session believes about the client
	proxied  bool // serve as Handle does: with the handler's proxy_protocol
	wg       sync.WaitGroup
}

func newTestServer(t *testing.T, options ...func(*testServer)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	ts := &testServer{
		h: &Handler{
			Hostname:    "test.example",
			IdleTimeout: caddy.Duration(DefaultIdleTimeout),
			store:       store,
			auth:        memAuth{"alice": "secret pw", "bob": "pw with  many spaces "},
			logger:      zap.NewNop(),
		},
		store:    store,
		ln:       ln,
		loopback: true,
	}
	for _, o := range options {
		o(ts)
	}
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			ts.wg.Add(1)
			go func() {
				defer ts.wg.Done()
				defer conn.Close()
				if ts.proxied {
					ts.h.serveClient(context.Background(), conn, false)
					return
				}
				ts.h.server().ServeConn(context.Background(), conn, false, ts.loopback)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		ts.wg.Wait()
	})
	return ts
}

// dial connects to the test server and reads the greeting.
func (ts *testServer) dial(t *testing.T) *pop3test.Client {
	t.Helper()
	c := ts.dialRaw(t)
	if g := c.Greeting(); !strings.HasPrefix(g, "+OK ") {
		t.Fatalf("greeting: %q", g)
	}
	return c
}

// dialRaw connects to the test server without reading anything.
func (ts *testServer) dialRaw(t *testing.T) *pop3test.Client {
	t.Helper()
	conn, err := net.Dial("tcp", ts.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return pop3test.New(t, conn)
}

func TestSessionTransaction(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "Subject: one\n\nhello\n", "Subject: two\n\n.dot line\nlast", "Subject: three\r\n\r\nbody\r\n")
	c := ts.dial(t)
	c.Login("alice", "secret pw")

	// Sizes are CRLF octets: 21+2, 28+... computed independently.
	sizes := []int64{crlfSize([]byte("Subject: one\n\nhello\n")), crlfSize([]byte("Subject: two\n\n.dot line\nlast")), crlfSize([]byte("Subject: three\r\n\r\nbody\r\n"))}
	total := sizes[0] + sizes[1] + sizes[2]
	for _, tc := range []struct{ cmd, want string }{
		{"STAT", "+OK 3 " + itoa(total)},
		{"stat", "+OK 3 " + itoa(total)},
		{"LIST 2", "+OK 2 " + itoa(sizes[1])},
		{"LIST 4", "-ERR No such message"},
		{"RETR 0", "-ERR No such message"},
		{"RETR -1", "-ERR Invalid message number"},
		{"RETR 99999999999999999999", "-ERR Invalid message number"},
		{"RETR abc", "-ERR Invalid message number"},
		{"RETR", "-ERR RETR: missing argument"},
		{"RETR 1 2", "-ERR RETR: too many arguments"},
		{"TOP 1", "-ERR TOP: missing argument"},
		{"TOP 1 x", "-ERR Invalid number of lines"},
		{"USER alice", "-ERR USER is not valid in this state"},
		{"XYZZY", "-ERR invalid command keyword"},
		{"XYZ", "-ERR Unknown command"},
		{"NOOP", "+OK"},
		{"DELE 1", "+OK Message 1 deleted"},
		{"DELE 1", "-ERR Message 1 is deleted"},
		{"RETR 1", "-ERR Message 1 is deleted"},
		{"LIST 1", "-ERR Message 1 is deleted"},
		{"STAT", "+OK 2 " + itoa(sizes[1]+sizes[2])},
		{"RSET", "+OK Maildrop has 3 messages (" + itoa(total) + " octets)"},
		{"STAT", "+OK 3 " + itoa(total)},
	} {
		if got := c.Cmd(tc.cmd); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.cmd, got, tc.want)
		}
	}

	pop3test.ExpectPrefix(t, "LIST", c.Cmd("LIST"), "+OK 3 messages")
	if got, want := c.Multi(), "1 "+itoa(sizes[0])+"\r\n2 "+itoa(sizes[1])+"\r\n3 "+itoa(sizes[2])+"\r\n"; got != want {
		t.Errorf("LIST body: got %q, want %q", got, want)
	}

	pop3test.ExpectPrefix(t, "RETR 2", c.Cmd("RETR 2"), "+OK "+itoa(sizes[1])+" octets")
	body := c.Multi()
	if want := "Subject: two\r\n\r\n.dot line\r\nlast\r\n"; body != want {
		t.Errorf("RETR 2: got %q, want %q", body, want)
	}
	if int64(len(body)) != sizes[1] {
		t.Errorf("RETR 2 sent %d octets, LIST said %d", len(body), sizes[1])
	}

	pop3test.ExpectPrefix(t, "TOP 1 0", c.Cmd("TOP 1 0"), "+OK")
	if got, want := c.Multi(), "Subject: one\r\n\r\n"; got != want {
		t.Errorf("TOP 1 0: got %q, want %q", got, want)
	}

	pop3test.ExpectPrefix(t, "UIDL", c.Cmd("UIDL"), "+OK")
	uidl := strings.Split(strings.TrimSuffix(c.Multi(), "\r\n"), "\r\n")
	if len(uidl) != 3 {
		t.Fatalf("UIDL listed %d messages: %q", len(uidl), uidl)
	}
	if got := c.Cmd("UIDL 3"); got != "+OK "+uidl[2] {
		t.Errorf("UIDL 3: got %q, want %q", got, "+OK "+uidl[2])
	}

	c.Cmd("DELE 2")
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
	if n := ts.store.Count("alice"); n != 2 {
		t.Errorf("after DELE 2 + QUIT: %d messages left, want 2", n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSessionAuthorization(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "x\n")
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"pass without user", []string{"PASS x"}, []string{"-ERR Send USER first"}},
		{"wrong password", []string{"USER alice", "PASS nope"}, []string{"+OK", "-ERR [AUTH] Authentication failed"}},
		{"unknown user same answer", []string{"USER mallory", "PASS nope"}, []string{"+OK", "-ERR [AUTH] Authentication failed"}},
		{"transaction command", []string{"STAT"}, []string{"-ERR STAT is not valid in this state"}},
		{"noop before login", []string{"NOOP"}, []string{"-ERR NOOP is not valid in this state"}},
		{"empty line", []string{""}, []string{"-ERR empty command"}},
		{"bad keyword", []string{"\x00\x01\x02"}, []string{"-ERR invalid command keyword"}},
		// QUIT releases the maildrop before the next case logs in again.
		{"retry after failure", []string{"USER alice", "PASS bad", "USER alice", "PASS secret pw", "QUIT"}, []string{"+OK", "-ERR [AUTH]", "+OK", "+OK Logged in, 1 messages", "+OK"}},
		{"lower case", []string{"user alice", "pass secret pw", "stat"}, []string{"+OK", "+OK", "+OK 1 3"}},
		{"quit", []string{"QUIT"}, []string{"+OK Logging out"}},
		{"password with spaces", []string{"USER bob", "PASS pw with  many spaces "}, []string{"+OK", "+OK Logged in"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t)
			for i, l := range tc.lines {
				pop3test.ExpectPrefix(t, l, c.Cmd(l), tc.want[i])
			}
		})
	}
}

func TestSessionPlaintextPolicy(t *testing.T) {
	ts := newTestServer(t, func(ts *testServer) { ts.loopback = false })
	c := ts.dial(t)
	pop3test.ExpectPrefix(t, "USER", c.Cmd("USER alice"), "-ERR [AUTH] Plaintext authentication is disabled")
	pop3test.ExpectPrefix(t, "PASS", c.Cmd("PASS secret pw"), "-ERR [AUTH] Plaintext authentication is disabled")
	c.Cmd("CAPA")
	if caps := c.Multi(); strings.Contains(caps, "USER") {
		t.Errorf("CAPA advertises USER on an insecure connection: %q", caps)
	}

	ts = newTestServer(t, func(ts *testServer) { ts.loopback = false; ts.h.AllowInsecureAuth = true })
	c = ts.dial(t)
	c.Login("alice", "secret pw")
}

func TestSessionCAPA(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial(t)
	pop3test.ExpectPrefix(t, "CAPA", c.Cmd("CAPA"), "+OK")
	got := c.Multi()
	for _, want := range []string{"TOP\r\n", "UIDL\r\n", "USER\r\n", "RESP-CODES\r\n", "PIPELINING\r\n", "AUTH-RESP-CODE\r\n", "IMPLEMENTATION caddy-pop3\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("CAPA lacks %q: %q", want, got)
		}
	}
	c.Login("alice", "secret pw")
	c.Cmd("CAPA")
	if got := c.Multi(); strings.Contains(got, "USER\r\n") {
		t.Errorf("CAPA in TRANSACTION lists USER: %q", got)
	}
}

func TestSessionInUse(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "x\n")
	a := ts.dial(t)
	a.Login("alice", "secret pw")
	b := ts.dial(t)
	b.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "second login", b.Cmd("PASS secret pw"), "-ERR [IN-USE]")
	// The failed session can still log in once the first one is gone.
	pop3test.ExpectPrefix(t, "QUIT", a.Cmd("QUIT"), "+OK")
	b.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "login after unlock", b.Cmd("PASS secret pw"), "+OK")
}

func TestSessionDropDeletesNothing(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "a\n", "b\n")
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	pop3test.ExpectPrefix(t, "DELE", c.Cmd("DELE 1"), "+OK")
	c.Conn().Close()
	// The lock is released once the server notices the drop; a new login
	// must then succeed and still see both messages.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c2 := ts.dial(t)
		c2.Cmd("USER alice")
		r := c2.Cmd("PASS secret pw")
		if strings.HasPrefix(r, "+OK") {
			pop3test.ExpectPrefix(t, "STAT", c2.Cmd("STAT"), "+OK 2 ")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("maildrop still locked after the client dropped: %q", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := ts.store.Count("alice"); n != 2 {
		t.Errorf("%d messages after a dropped session, want 2", n)
	}
}

func TestSessionCommitFailure(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "a\n")
	ts.store.SetFaults(memstore.Faults{CommitErr: io.ErrUnexpectedEOF})
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	c.Cmd("DELE 1")
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "-ERR [SYS/TEMP]")
}

// TestSessionCommitLockLost: a QUIT whose Commit finds the maildrop lock
// taken over (storage.ErrLockLost, wrapped as a backend does) answers
// -ERR [IN-USE] saying that nothing was deleted, not the [SYS/TEMP] of a
// failed removal that might have been partial.
func TestSessionCommitLockLost(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "a\n", "b\n")
	ts.store.SetFaults(memstore.Faults{CommitErr: fmt.Errorf("backend: lease taken over: %w", storage.ErrLockLost)})
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	c.Cmd("DELE 1")
	c.Cmd("DELE 2")
	r := c.Cmd("QUIT")
	pop3test.ExpectPrefix(t, "QUIT", r, "-ERR [IN-USE]")
	if !strings.Contains(r, "lock was lost") || !strings.Contains(r, "no messages were deleted") {
		t.Errorf("QUIT = %q, want it to name the lost lock and say nothing was deleted", r)
	}
	if n := ts.store.Count("alice"); n != 2 {
		t.Errorf("%d messages after a QUIT with the lock lost, want 2", n)
	}
}

func TestSessionPipelining(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "Subject: a\n\nbody\n")
	c := ts.dial(t)
	c.Send("USER alice\r\nPASS secret pw\r\nSTAT\r\nLIST\r\nRETR 1\r\nNOOP\r\nQUIT\r\n")
	pop3test.ExpectPrefix(t, "USER", c.ReadLine(), "+OK")
	pop3test.ExpectPrefix(t, "PASS", c.ReadLine(), "+OK")
	pop3test.ExpectPrefix(t, "STAT", c.ReadLine(), "+OK 1 ")
	pop3test.ExpectPrefix(t, "LIST", c.ReadLine(), "+OK 1 messages")
	c.Multi()
	pop3test.ExpectPrefix(t, "RETR", c.ReadLine(), "+OK")
	if got := c.Multi(); got != "Subject: a\r\n\r\nbody\r\n" {
		t.Errorf("RETR: %q", got)
	}
	pop3test.ExpectPrefix(t, "NOOP", c.ReadLine(), "+OK")
	pop3test.ExpectPrefix(t, "QUIT", c.ReadLine(), "+OK")
}

func TestSessionLongLine(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial(t)
	pop3test.ExpectPrefix(t, "long line", c.Cmd("USER "+strings.Repeat("a", 10*pop3server.ReadBufferSize)), "-ERR line too long")
	pop3test.ExpectPrefix(t, "after long line", c.Cmd("CAPA"), "+OK")
	c.Multi()
}

func TestSessionTooManyErrors(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial(t)
	for i := 0; i < pop3server.DefaultMaxErrors-1; i++ {
		pop3test.ExpectPrefix(t, "bad", c.Cmd("BOGUS"), "-ERR")
	}
	last := c.Cmd("BOGUS")
	pop3test.ExpectPrefix(t, "last", last, "-ERR")
	if !strings.Contains(last, "too many invalid commands") {
		t.Errorf("last reply %q does not say the session ends", last)
	}
	if rest, err := c.Reader().ReadString('\n'); err == nil || rest != "" {
		t.Errorf("after the one -ERR of the last bad command: %q, %v; want the connection closed", rest, err)
	}
}

// TestSessionTooManyLongLines: the over-long line that reaches max_errors
// gets one -ERR line too.
func TestSessionTooManyLongLines(t *testing.T) {
	ts := newTestServer(t, withLimits(Limits{MaxErrors: 2}))
	c := ts.dial(t)
	long := "NOOP " + strings.Repeat("a", 300)
	pop3test.ExpectPrefix(t, "first", c.Cmd(long), "-ERR line too long")
	pop3test.ExpectPrefix(t, "last", c.Cmd(long), "-ERR line too long")
	if rest, err := c.Reader().ReadString('\n'); err == nil || rest != "" {
		t.Errorf("after the one -ERR of the last long line: %q, %v; want the connection closed", rest, err)
	}
}

func TestSessionGracePeriodAfterReload(t *testing.T) {
	ts := newTestServer(t, func(ts *testServer) { ts.h.GracePeriod = caddy.Duration(200 * time.Millisecond) })
	ts.store.Add("alice", "a\n", "b\n")
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	pop3test.ExpectPrefix(t, "DELE", c.Cmd("DELE 1"), "+OK")

	if err := ts.h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	// Within the grace period the session goes on under its config.
	pop3test.ExpectPrefix(t, "STAT during grace", c.Cmd("STAT"), "+OK 1 ")
	// Then it is closed with [SYS/TEMP], and nothing is deleted.
	pop3test.ExpectPrefix(t, "end of grace", c.ReadLine(), "-ERR [SYS/TEMP] Server configuration changed")
	if _, err := c.Reader().ReadByte(); err == nil {
		t.Error("connection still open after the grace period")
	}
	if !pop3server.Live.Drain(5 * time.Second) {
		t.Fatal("session did not end")
	}
	if n := ts.store.Count("alice"); n != 2 {
		t.Errorf("%d messages after a session closed by a reload, want 2", n)
	}
	if ts.store.Commits() != 0 {
		t.Errorf("a session closed by a reload committed %d times", ts.store.Commits())
	}
}

func TestSessionShutdownDuringTransaction(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "a\n")
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	c.Cmd("DELE 1")
	for _, s := range pop3server.Live.Of(ts.h) {
		s.Shutdown(pop3server.ReasonAdmin)
	}
	pop3test.ExpectPrefix(t, "shutdown", c.ReadLine(), "-ERR [SYS/TEMP] Session ended by the administrator")
	if !pop3server.Live.Drain(5 * time.Second) {
		t.Fatal("session did not end")
	}
	if n := ts.store.Count("alice"); n != 1 {
		t.Errorf("%d messages after shutdown, want 1", n)
	}
}
