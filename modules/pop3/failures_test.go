package pop3

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fakeClock is a settable clock for the registries.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// bruteForceServer is a test server of remote clients with a lockout after
// 3 failures and a recorded (not slept) failure delay, logging to logs.
func bruteForceServer(t *testing.T, l Limits, options ...func(*testServer)) (*testServer, *pauseLog, *observer.ObservedLogs, *countingAuth) {
	t.Helper()
	pauses := &pauseLog{}
	core, logs := observer.New(zap.DebugLevel)
	auth := newCountingAuth()
	l.pause = pauses.pause
	options = append([]func(*testServer){remoteClients, withLimits(l), func(ts *testServer) {
		ts.h.auth = auth
		ts.h.logger = zap.New(core)
	}}, options...)
	ts := newTestServer(t, options...)
	ts.store.Add("alice", "x\n")
	return ts, pauses, logs, auth
}

func TestFailureDelay(t *testing.T) {
	ts, pauses, _, _ := bruteForceServer(t, Limits{})
	c := ts.dial(t)
	c.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "wrong password", c.Cmd("PASS nope"), "-ERR [AUTH] Authentication failed")
	c.Cmd("USER nobody")
	pop3test.ExpectPrefix(t, "unknown user", c.Cmd("PASS nope"), "-ERR [AUTH] Authentication failed")
	c.Login("alice", "secret pw")
	got := pauses.recorded()
	if len(got) != 2 || got[0] != DefaultAuthFailureDelay || got[1] != DefaultAuthFailureDelay {
		t.Errorf("failure delays: got %v, want two of %v (none for the success)", got, DefaultAuthFailureDelay)
	}
}

// TestFailureDelayEndsWithContext: the delay really waits (30s here),
// in the session's goroutine, and gives up when the connection's context
// ends.
func TestFailureDelayEndsWithContext(t *testing.T) {
	h := &Handler{
		Hostname:    "test.example",
		IdleTimeout: caddy.Duration(DefaultIdleTimeout),
		store:       memstore.New(),
		auth:        memAuth{"alice": "secret pw"},
		logger:      zap.NewNop(),
		// Longer than the client's deadline: only the context can end it.
		Limits: Limits{AuthFailureDelay: caddy.Duration(30 * time.Second), failures: guard.NewFailures(8), conns: guard.NewConns()},
	}
	server, client := net.Pipe()
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		h.server().ServeConn(ctx, server, false, true)
	}()
	c := pop3test.New(t, client)
	c.ReadLine()
	c.Cmd("USER alice")
	c.Send("PASS wrong\r\n")
	cancel()
	pop3test.ExpectPrefix(t, "answer after the context ended", c.ReadLine(), "-ERR [AUTH] Authentication failed")
	<-done
	if guard.Pause(ctx, time.Hour, nil) {
		t.Error("pause on an ended context reports a live one")
	}
	ended := make(chan struct{})
	close(ended)
	if guard.Pause(context.Background(), time.Hour, ended) {
		t.Error("pause after the session was ended reports a whole wait")
	}
}

// TestFailureDelayEndsWithShutdown: a session waiting out a failure delay
// ends at once when it is ended from outside (a reload's grace period is
// over, process exit, the admin API), not when the delay is over.
func TestFailureDelayEndsWithShutdown(t *testing.T) {
	h := &Handler{
		Hostname:    "test.example",
		IdleTimeout: caddy.Duration(DefaultIdleTimeout),
		store:       memstore.New(),
		auth:        memAuth{"alice": "secret pw"},
		logger:      zap.NewNop(),
		// Longer than the client's deadline: only shutdown can end it.
		Limits: Limits{AuthFailureDelay: caddy.Duration(30 * time.Second), failures: guard.NewFailures(8), conns: guard.NewConns()},
	}
	server, client := net.Pipe()
	defer client.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		h.server().ServeConn(context.Background(), server, false, true)
	}()
	c := pop3test.New(t, client)
	c.ReadLine()
	c.Cmd("USER alice")
	c.Send("PASS wrong\r\n")
	var sessions []*pop3server.Session
	waitFor(t, "the session is registered", func() bool {
		sessions = pop3server.Live.Of(h)
		return len(sessions) == 1
	})
	sessions[0].Shutdown(pop3server.ReasonAdmin)
	if _, err := io.ReadAll(c.Reader()); err != nil {
		t.Errorf("reading until the server closes: %v", err)
	}
	<-done
}

func TestLockout(t *testing.T) {
	ts, _, logs, auth := bruteForceServer(t, Limits{AuthFailureLimit: 3, AuthUserFailureLimit: -1})
	c := ts.dial(t)
	for i := range 3 {
		c.Cmd("USER alice")
		pop3test.ExpectPrefix(t, "failure "+strconv.Itoa(i+1), c.Cmd("PASS guess"+strconv.Itoa(i)), "-ERR [AUTH] Authentication failed")
	}
	if n := auth.count("alice"); n != 3 {
		t.Fatalf("%d password checks for 3 attempts", n)
	}
	lock := logs.FilterMessage("authentication lockout").All()
	if len(lock) != 1 || lock[0].Level != zap.WarnLevel || lock[0].ContextMap()["remote_ip"] != "127.0.0.1" || lock[0].ContextMap()["scope"] != guard.ScopeIP {
		t.Fatalf("lockout log: %+v", lock)
	}

	// Locked out: the right password gets the very same answer, without
	// being checked, from this session and from a new one.
	c.Cmd("USER alice")
	if got := c.Cmd("PASS secret pw"); got != "-ERR "+pop3server.ReplyAuthFailed {
		t.Errorf("right password while locked out: got %q, want %q", got, "-ERR "+pop3server.ReplyAuthFailed)
	}
	d := ts.dial(t)
	d.Cmd("USER bob")
	if got := d.Cmd("PASS " + bobPassword); got != "-ERR "+pop3server.ReplyAuthFailed {
		t.Errorf("another user from the locked-out address: got %q", got)
	}
	if n := auth.count("alice") + auth.count("bob"); n != 3 {
		t.Errorf("passwords were checked during the lockout (%d checks)", n)
	}
	refused := logs.FilterMessage("authentication failed").FilterField(zap.String("locked_out", guard.ScopeIP)).Len()
	if refused != 2 {
		t.Errorf("%d refused logins logged, want 2", refused)
	}

	// The registry is shared: a handler provisioned later (after a
	// reload) sees the same lockout.
	reloaded := newTestServer(t, remoteClients, func(n *testServer) {
		n.h.Limits = Limits{AuthFailureLimit: 3, AuthFailureDelay: -1, failures: ts.h.Limits.failures}
	})
	e := reloaded.dial(t)
	e.Cmd("USER bob")
	pop3test.ExpectPrefix(t, "after a reload", e.Cmd("PASS "+bobPassword), "-ERR [AUTH] Authentication failed")
}

func TestLockoutExemptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits Limits
		option func(*testServer)
	}{
		{"trusted network", Limits{AuthFailureLimit: 2, TrustedNetworks: []string{"127.0.0.1"}}, func(*testServer) {}},
		{"loopback", Limits{AuthFailureLimit: 2}, func(ts *testServer) { ts.loopback = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, pauses, _, _ := bruteForceServer(t, tc.limits, tc.option)
			c := ts.dial(t)
			for range 5 {
				c.Cmd("USER alice")
				pop3test.ExpectPrefix(t, "wrong password", c.Cmd("PASS nope"), "-ERR [AUTH]")
			}
			c.Login("alice", "secret pw")
			if ips, users := ts.h.Limits.failures.Size(); ips != 0 || users != 0 {
				t.Errorf("failures of an exempt client were tracked: %d addresses, %d users", ips, users)
			}
			if n := len(pauses.recorded()); n != 5 {
				t.Errorf("%d failure delays for 5 failures: exempt clients still wait", n)
			}
		})
	}
}

func TestUserLockoutHidesWhetherUserExists(t *testing.T) {
	ts, _, _, auth := bruteForceServer(t, Limits{AuthFailureLimit: -1, AuthUserFailureLimit: 2})
	c := ts.dial(t)
	replies := map[string][]string{}
	for _, user := range []string{"alice", "mallory"} {
		for range 3 {
			c.Cmd("USER " + user)
			replies[user] = append(replies[user], c.Cmd("PASS nope"))
		}
	}
	if strings.Join(replies["alice"], "|") != strings.Join(replies["mallory"], "|") {
		t.Errorf("an existing and an unknown user are told apart: %q vs %q", replies["alice"], replies["mallory"])
	}
	if auth.count("alice") != 2 || auth.count("mallory") != 2 {
		t.Errorf("password checks: alice %d, mallory %d; want 2 each (the third refused unchecked)", auth.count("alice"), auth.count("mallory"))
	}
	c.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "alice locked out", c.Cmd("PASS secret pw"), "-ERR [AUTH]")
	c.Login("bob", bobPassword)
}

// TestUnknownUserSameAsWrongPassword checks the session path: for a wrong
// password, an unknown user and a name no maildrop could have, the
// authenticator is asked exactly once (it compares against a fake hash for
// unknown users), the delay is the same, the answer is the same, and the
// log lines carry the same fields.
func TestUnknownUserSameAsWrongPassword(t *testing.T) {
	ts, pauses, logs, auth := bruteForceServer(t, Limits{AuthFailureLimit: -1, AuthUserFailureLimit: -1})
	var replies []string
	users := []string{"alice", "nobody", "../../etc/passwd"}
	for _, user := range users {
		c := ts.dial(t)
		c.Cmd("USER " + user)
		replies = append(replies, c.Cmd("PASS wrong"))
	}
	for i, user := range users {
		if n := auth.count(user); n != 1 {
			t.Errorf("%q: authenticator asked %d times, want 1", user, n)
		}
		if replies[i] != replies[0] {
			t.Errorf("%q: reply %q differs from %q", user, replies[i], replies[0])
		}
	}
	for i, d := range pauses.recorded() {
		if d != DefaultAuthFailureDelay {
			t.Errorf("failure %d: delay %v", i, d)
		}
	}
	entries := logs.FilterMessage("authentication failed").All()
	if len(entries) != len(users) {
		t.Fatalf("%d failure log lines for %d failures", len(entries), len(users))
	}
	for _, e := range entries {
		if keys := fieldKeys(e); keys != fieldKeys(entries[0]) || e.Level != entries[0].Level {
			t.Errorf("log line %q differs in shape from %q", keys, fieldKeys(entries[0]))
		}
	}
}

func fieldKeys(e observer.LoggedEntry) string {
	var keys []string
	for _, f := range e.Context {
		keys = append(keys, f.Key)
	}
	return strings.Join(keys, ",")
}

func TestLoginDelay(t *testing.T) {
	clock := newClock()
	ts := newTestServer(t, withLimits(Limits{LoginDelay: caddy.Duration(90 * time.Second), Expire: "never"}))
	ts.h.Limits.logins.SetClock(clock.now)
	ts.store.Add("alice", "x\n")

	c := ts.dial(t)
	c.Cmd("CAPA")
	caps := c.Multi()
	for _, want := range []string{"LOGIN-DELAY 90\r\n", "EXPIRE NEVER\r\n"} {
		if !strings.Contains(caps, want) {
			t.Errorf("CAPA lacks %q: %q", want, caps)
		}
	}
	c.Login("alice", "secret pw")
	c.Cmd("QUIT")

	clock.advance(30 * time.Second)
	d := ts.dial(t)
	d.Cmd("USER alice")
	if got := d.Cmd("PASS secret pw"); got != "-ERR [LOGIN-DELAY] Logged in too recently, wait 60 seconds" {
		t.Errorf("second login 30s later: %q", got)
	}
	d.Login("bob", bobPassword)

	clock.advance(60 * time.Second)
	e := ts.dial(t)
	e.Login("alice", "secret pw")
}

func TestCAPAPolicies(t *testing.T) {
	for _, tc := range []struct {
		limits   Limits
		want     []string
		unwanted []string
	}{
		{Limits{}, nil, []string{"LOGIN-DELAY", "EXPIRE"}},
		{Limits{Expire: "30"}, []string{"EXPIRE 30\r\n"}, []string{"LOGIN-DELAY"}},
		{Limits{LoginDelay: caddy.Duration(1500 * time.Millisecond)}, []string{"LOGIN-DELAY 2\r\n"}, []string{"EXPIRE"}},
	} {
		ts := newTestServer(t, withLimits(tc.limits))
		c := ts.dial(t)
		c.Cmd("CAPA")
		caps := c.Multi()
		for _, w := range tc.want {
			if !strings.Contains(caps, w) {
				t.Errorf("%+v: CAPA lacks %q: %q", tc.limits, w, caps)
			}
		}
		for _, u := range tc.unwanted {
			if strings.Contains(caps, u) {
				t.Errorf("%+v: CAPA has %q: %q", tc.limits, u, caps)
			}
		}
	}
}
