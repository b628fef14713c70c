package lmtp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/sessions"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// delivery is one message a fakeStore stored.
type delivery struct {
	user string
	env  storage.Envelope
	msg  string
}

// fakeStore is a storage.Deliverer that records deliveries and fails for
// the users in fail.
type fakeStore struct {
	mu     sync.Mutex
	fail   map[string]error
	got    []delivery
	block  chan struct{} // when set, Deliver waits for it to close
	inside chan struct{} // when set, Deliver signals it has started
}

func (f *fakeStore) Deliver(_ context.Context, user string, env storage.Envelope, msg io.Reader) error {
	if f.inside != nil {
		f.inside <- struct{}{}
	}
	if f.block != nil {
		<-f.block
	}
	b, err := io.ReadAll(msg)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[user]; err != nil {
		return err
	}
	f.got = append(f.got, delivery{user: user, env: env, msg: string(b)})
	return nil
}

func (f *fakeStore) deliveries() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]delivery(nil), f.got...)
}

// testServer runs h on a loopback listener and returns its address. Every
// session has ended when the test's cleanup returns.
func testServer(t *testing.T, h *Handler, store storage.Deliverer) string {
	t.Helper()
	h.Hostname = "lmtp.test"
	h.deliverer = store
	h.backend = "fake"
	h.logger = zap.NewNop()
	if h.sessions == nil {
		h.sessions = sessions.New[*liveSession]()
	}
	if err := h.prepare(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				h.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		h.sessions.ShutdownOf(nil, endShutdown)
		wg.Wait()
	})
	return l.Addr().String()
}

// client is a line-level LMTP client.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (cl *client) reply() string {
	cl.t.Helper()
	for {
		line, err := cl.r.ReadString('\n')
		if err != nil {
			cl.t.Fatalf("reading reply: %v (got %q)", err, line)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 || line[3] != '-' {
			return line
		}
	}
}

// send writes raw text.
func (cl *client) send(s string) {
	cl.t.Helper()
	if _, err := io.WriteString(cl.c, s); err != nil {
		cl.t.Fatal(err)
	}
}

// cmd sends a command line and returns its reply.
func (cl *client) cmd(line string) string {
	cl.send(line + "\r\n")
	return cl.reply()
}

// expect checks that got starts with want.
func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("%s: got %q, want %q...", what, got, want)
	}
}

// greet reads the greeting and says LHLO.
func (cl *client) greet() {
	expect(cl.t, "greeting", cl.reply(), "220 ")
	expect(cl.t, "LHLO", cl.cmd("LHLO mta.test"), "250 ")
}

// startData begins a transaction from sender to rcpts, each accepted, up
// to DATA's 354.
func (cl *client) startData(sender string, rcpts ...string) {
	cl.t.Helper()
	expect(cl.t, "MAIL", cl.cmd("MAIL FROM:<"+sender+">"), "250 ")
	for _, r := range rcpts {
		expect(cl.t, "RCPT "+r, cl.cmd("RCPT TO:<"+r+">"), "250 ")
	}
	expect(cl.t, "DATA", cl.cmd("DATA"), "354 ")
}

const testMessage = "Message-ID: <1@test>\r\nSubject: hi\r\n\r\nbody\r\n..dot-stuffed\r\n"

func TestPerRecipientReplies(t *testing.T) {
	store := &fakeStore{fail: map[string]error{
		"locked@example.com": fmt.Errorf("mbox: %w", storage.ErrLockTimeout),
		"full@example.com":   fmt.Errorf("disk: %w", errNoSpaceForTest),
	}}
	addr := testServer(t, &Handler{Recipients: Recipients{Domains: []string{"example.com"}}}, store)
	cl := dial(t, addr)
	cl.greet()
	expect(t, "MAIL", cl.cmd("MAIL FROM:<sender@remote.test>"), "250 ")
	expect(t, "RCPT alice", cl.cmd("RCPT TO:<alice@example.com>"), "250 ")
	expect(t, "RCPT locked", cl.cmd("RCPT TO:<locked@example.com>"), "250 ")
	expect(t, "RCPT other domain", cl.cmd("RCPT TO:<x@elsewhere.test>"), "550 5.1.2")
	expect(t, "RCPT bad name", cl.cmd("RCPT TO:<../x@example.com>"), "550 5.1.1")
	expect(t, "RCPT bob", cl.cmd("RCPT TO:<Bob@example.com>"), "250 ")
	expect(t, "RCPT full", cl.cmd("RCPT TO:<full@example.com>"), "250 ")
	expect(t, "DATA", cl.cmd("DATA"), "354 ")
	cl.send(strings.ReplaceAll(testMessage, "\r\n..", "\r\n..") + ".\r\n")
	want := []string{
		"250 2.0.0 <alice@example.com>",
		"451 4.2.0 <locked@example.com>",
		"250 2.0.0 <Bob@example.com>",
		"451 4.3.0 <full@example.com>",
	}
	for _, w := range want {
		expect(t, "reply after DATA", cl.reply(), w)
	}
	expect(t, "QUIT", cl.cmd("QUIT"), "221 ")

	got := store.deliveries()
	if len(got) != 2 {
		t.Fatalf("stored %d messages, want 2: %+v", len(got), got)
	}
	stored := "Message-ID: <1@test>\r\nSubject: hi\r\n\r\nbody\r\n.dot-stuffed\r\n"
	for i, d := range []struct{ user, rcpt string }{{"alice@example.com", "alice@example.com"}, {"bob@example.com", "Bob@example.com"}} {
		if got[i].user != d.user {
			t.Errorf("delivery %d to %q, want %q", i, got[i].user, d.user)
		}
		wantMsg := "Return-Path: <sender@remote.test>\r\nDelivered-To: " + d.rcpt + "\r\n" + stored
		if got[i].msg != wantMsg {
			t.Errorf("delivery %d stored %q, want %q", i, got[i].msg, wantMsg)
		}
		if got[i].env.Sender != "sender@remote.test" || got[i].env.Recipient != d.rcpt || got[i].env.Received.IsZero() {
			t.Errorf("delivery %d envelope %+v", i, got[i].env)
		}
	}
}

// errNoSpaceForTest is a storage failure that is neither a lock nor a
// bad user: 451 4.3.0.
var errNoSpaceForTest = fmt.Errorf("something broke")

func TestTraceHeadersOff(t *testing.T) {
	store := &fakeStore{}
	off := false
	addr := testServer(t, &Handler{TraceHeaders: &off}, store)
	cl := dial(t, addr)
	cl.greet()
	expect(t, "MAIL", cl.cmd("MAIL FROM:<>"), "250 ")
	expect(t, "RCPT", cl.cmd("RCPT TO:<a@example.com>"), "250 ")
	// The same recipient twice gets two replies and one delivery.
	expect(t, "RCPT again", cl.cmd("RCPT TO:<a@example.com>"), "250 ")
	expect(t, "DATA", cl.cmd("DATA"), "354 ")
	cl.send(testMessage + ".\r\n")
	expect(t, "reply 1", cl.reply(), "250 2.0.0 <a@example.com>")
	expect(t, "reply 2", cl.reply(), "250 2.0.0 <a@example.com>")
	got := store.deliveries()
	if len(got) != 1 || got[0].msg != "Message-ID: <1@test>\r\nSubject: hi\r\n\r\nbody\r\n.dot-stuffed\r\n" {
		t.Fatalf("deliveries = %+v, want the message once, unchanged", got)
	}
}

func TestMessageSizeLimit(t *testing.T) {
	store := &fakeStore{}
	addr := testServer(t, &Handler{MaxMessageSize: 100}, store)
	cl := dial(t, addr)
	cl.greet()
	expect(t, "MAIL with SIZE", cl.cmd("MAIL FROM:<s@x.test> SIZE=101"), "552 5.3.4")
	expect(t, "MAIL", cl.cmd("MAIL FROM:<s@x.test>"), "250 ")
	expect(t, "RCPT 1", cl.cmd("RCPT TO:<a@example.com>"), "250 ")
	expect(t, "RCPT 2", cl.cmd("RCPT TO:<b@example.com>"), "250 ")
	expect(t, "DATA", cl.cmd("DATA"), "354 ")
	cl.send("Subject: big\r\n\r\n" + strings.Repeat("x", 200) + "\r\n.\r\n")
	expect(t, "reply 1", cl.reply(), "552 5.3.4 <a@example.com>")
	expect(t, "reply 2", cl.reply(), "552 5.3.4 <b@example.com>")
	// The session goes on: a small message is delivered.
	cl.startData("s@x.test", "a@example.com")
	cl.send("Subject: small\r\n\r\nok\r\n.\r\n")
	expect(t, "reply", cl.reply(), "250 2.0.0 <a@example.com>")
	if got := store.deliveries(); len(got) != 1 || !strings.Contains(got[0].msg, "Subject: small") {
		t.Fatalf("deliveries = %+v, want only the small message", got)
	}
}

func TestBDAT(t *testing.T) {
	store := &fakeStore{}
	off := false
	addr := testServer(t, &Handler{TraceHeaders: &off}, store)
	cl := dial(t, addr)
	cl.greet()
	expect(t, "MAIL", cl.cmd("MAIL FROM:<s@x.test>"), "250 ")
	expect(t, "RCPT", cl.cmd("RCPT TO:<a@example.com>"), "250 ")
	part1, part2 := "Subject: chunks\r\n\r\n", "one\r\n.two\r\n"
	cl.send(fmt.Sprintf("BDAT %d\r\n%s", len(part1), part1))
	expect(t, "BDAT 1", cl.reply(), "250 ")
	cl.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(part2), part2))
	expect(t, "BDAT LAST", cl.reply(), "250 2.0.0 <a@example.com>")
	if got := store.deliveries(); len(got) != 1 || got[0].msg != part1+part2 {
		t.Fatalf("deliveries = %+v, want the chunks as sent (no dot-unstuffing)", got)
	}
}

func TestDropMidDataStoresNothing(t *testing.T) {
	store := &fakeStore{}
	h := &Handler{}
	addr := testServer(t, h, store)
	cl := dial(t, addr)
	cl.greet()
	cl.startData("s@x.test", "a@example.com")
	cl.send("Subject: cut\r\n\r\nhalf a mess")
	cl.c.Close()
	if !h.sessions.Drain(30 * time.Second) {
		t.Fatal("the session did not end after the client dropped")
	}
	if got := store.deliveries(); len(got) != 0 {
		t.Fatalf("stored %+v after a drop mid-DATA", got)
	}
}

func TestDrainFinishesDelivery(t *testing.T) {
	store := &fakeStore{block: make(chan struct{}), inside: make(chan struct{}, 1)}
	h := &Handler{}
	addr := testServer(t, h, store)

	idle := dial(t, addr)
	idle.greet()
	busy := dial(t, addr)
	busy.greet()
	busy.startData("s@x.test", "a@example.com")
	busy.send(testMessage + ".\r\n")
	<-store.inside // the message is being stored

	h.sessions.ShutdownOf(h, endReload)
	// The idle session is closed at once, without a reply.
	if line, err := idle.r.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Fatalf("idle session got %q (%v) after the drain, want the connection closed", line, err)
	}
	// The busy one gets its 250, then is closed.
	close(store.block)
	expect(t, "reply after drain", busy.reply(), "250 2.0.0 <a@example.com>")
	if line, err := busy.r.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Fatalf("busy session got %q (%v) after its reply, want the connection closed", line, err)
	}
	if got := store.deliveries(); len(got) != 1 {
		t.Fatalf("deliveries = %d, want 1", len(got))
	}
}

func TestDrainMidDataDeliversNothing(t *testing.T) {
	store := &fakeStore{}
	h := &Handler{}
	addr := testServer(t, h, store)
	cl := dial(t, addr)
	cl.greet()
	cl.startData("s@x.test", "a@example.com")
	cl.send("Subject: slow\r\n\r\npart")
	deadline := time.Now().Add(10 * time.Second)
	for h.sessions.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	h.sessions.ShutdownOf(h, endReload)
	expect(t, "reply after drain", cl.reply(), "421 4.3.2 <a@example.com>")
	if got := store.deliveries(); len(got) != 0 {
		t.Fatalf("stored %+v", got)
	}
}

func TestIdleTimeout(t *testing.T) {
	h := &Handler{Limits: Limits{IdleTimeout: caddy.Duration(time.Second)}}
	addr := testServer(t, h, &fakeStore{})
	cl := dial(t, addr)
	cl.greet()
	expect(t, "after silence", cl.reply(), "421 4.4.2")
}

func TestConnectionLimitPerIP(t *testing.T) {
	h := &Handler{Limits: Limits{MaxConnectionsPerIP: 1}}
	addr := testServer(t, h, &fakeStore{})
	first := dial(t, addr)
	first.greet()
	second := dial(t, addr)
	expect(t, "second connection", second.reply(), "421 4.7.0")
}

func TestProxiedClientMustBeTrusted(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		want    string
	}{
		{name: "untrusted client", want: "554 5.7.1"},
		{name: "trusted client", trusted: []string{"192.0.2.0/24"}, want: "220 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Handler{TrustedNetworks: tt.trusted, ProxyProtocol: &ProxyProtocol{Trusted: []string{"127.0.0.1"}}}
			addr := testServer(t, h, &fakeStore{})
			cl := dial(t, addr)
			cl.send("PROXY TCP4 192.0.2.7 10.0.0.1 5555 24\r\n")
			expect(t, "greeting", cl.reply(), tt.want)
		})
	}
}

func TestLargeMessageSpooledToFile(t *testing.T) {
	store := &fakeStore{}
	off := false
	addr := testServer(t, &Handler{TraceHeaders: &off}, store)
	cl := dial(t, addr)
	cl.greet()
	var body strings.Builder
	body.WriteString("Subject: large\r\n\r\n")
	for i := 0; body.Len() < 3*spoolMemory; i++ {
		fmt.Fprintf(&body, "line %d %s\r\n", i, strings.Repeat("y", 70))
	}
	expect(t, "MAIL", cl.cmd("MAIL FROM:<s@x.test>"), "250 ")
	expect(t, "RCPT a", cl.cmd("RCPT TO:<a@example.com>"), "250 ")
	expect(t, "RCPT b", cl.cmd("RCPT TO:<b@example.com>"), "250 ")
	expect(t, "DATA", cl.cmd("DATA"), "354 ")
	cl.send(body.String() + ".\r\n")
	expect(t, "reply a", cl.reply(), "250 2.0.0 <a@example.com>")
	expect(t, "reply b", cl.reply(), "250 2.0.0 <b@example.com>")
	got := store.deliveries()
	if len(got) != 2 {
		t.Fatalf("deliveries = %d, want 2", len(got))
	}
	for _, d := range got {
		if d.msg != body.String() {
			t.Errorf("%s: stored %d octets, want the %d sent", d.user, len(d.msg), body.Len())
		}
	}
}

func TestLineLengthLimit(t *testing.T) {
	store := &fakeStore{}
	addr := testServer(t, &Handler{Limits: Limits{MaxLineLength: MinMaxLineLength}}, store)

	cmd := dial(t, addr)
	cmd.greet()
	expect(t, "long command", cmd.cmd("NOOP "+strings.Repeat("x", 2000)), "500 5.4.0")

	data := dial(t, addr)
	data.greet()
	data.startData("s@x.test", "a@example.com")
	data.send("Subject: long\r\n\r\n" + strings.Repeat("y", 3000) + "\r\n.\r\n")
	expect(t, "reply after a long line", data.reply(), "554 5.6.0 <a@example.com>")
	if got := store.deliveries(); len(got) != 0 {
		t.Fatalf("stored %d messages with an over-long line", len(got))
	}
}
