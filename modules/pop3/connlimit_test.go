package pop3

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
	"github.com/caddyserver/caddy/v2"
	"github.com/mholt/caddy-l4/layer4"
	"go.uber.org/zap"
)

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// bobPassword is bob's password in newTestServer's authenticator.
const bobPassword = "pw with  many spaces "

// countingAuth is memAuth that counts how often each user name was checked.
type countingAuth struct {
	memAuth
	mu    sync.Mutex
	calls map[string]int
}

func newCountingAuth() *countingAuth {
	return &countingAuth{memAuth: memAuth{"alice": "secret pw", "bob": bobPassword}, calls: map[string]int{}}
}

func (a *countingAuth) Authenticate(ctx context.Context, user, password string) (bool, error) {
	a.mu.Lock()
	a.calls[user]++
	a.mu.Unlock()
	return a.memAuth.Authenticate(ctx, user, password)
}

func (a *countingAuth) count(user string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[user]
}

// waitFor polls cond for up to 10 seconds: the server notices a closed
// connection asynchronously.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 10s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHandleMaxConnections goes through Handle itself, over in-memory
// connections, as caddy-l4 calls it.
func TestHandleMaxConnections(t *testing.T) {
	h := &Handler{
		Hostname:    "test.example",
		IdleTimeout: caddy.Duration(DefaultIdleTimeout),
		store:       memstore.New(),
		auth:        memAuth{"alice": "secret pw"},
		logger:      zap.NewNop(),
		Limits:      Limits{MaxConnections: 1, conns: guard.NewConns()},
	}
	var wg sync.WaitGroup
	open := func() (*pop3test.Client, chan struct{}) {
		server, client := net.Pipe()
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			defer server.Close()
			_ = h.Handle(layer4.WrapConnection(server, nil, zap.NewNop()), nil)
		}()
		return pop3test.New(t, client), done
	}
	defer wg.Wait()

	c1, done1 := open()
	defer c1.Conn().Close()
	pop3test.ExpectPrefix(t, "first greeting", c1.ReadLine(), "+OK")

	c2, done2 := open()
	defer c2.Conn().Close()
	pop3test.ExpectPrefix(t, "second connection", c2.ReadLine(), "-ERR [SYS/TEMP] Too many connections")
	<-done2

	pop3test.ExpectPrefix(t, "QUIT", c1.Cmd("QUIT"), "+OK")
	<-done1

	c3, _ := open()
	defer c3.Conn().Close()
	pop3test.ExpectPrefix(t, "after the first left", c3.ReadLine(), "+OK")
	c3.Conn().Close()
}

func TestMaxConnectionsPerIP(t *testing.T) {
	ts := newTestServer(t, remoteClients, withLimits(Limits{MaxConnectionsPerIP: 2}))
	ts.dial(t)
	ts.dial(t)
	first := ts.dialRaw(t).ReadLine()
	pop3test.ExpectPrefix(t, "third connection from one address", first, "-ERR [SYS/TEMP] Too many connections from your address")

	trusted := newTestServer(t, remoteClients, withLimits(Limits{MaxConnectionsPerIP: 2, TrustedNetworks: []string{"127.0.0.0/8"}}))
	for range 4 {
		trusted.dial(t)
	}

	loopback := newTestServer(t, withLimits(Limits{MaxConnectionsPerIP: 2}))
	for range 4 {
		loopback.dial(t)
	}
}

func TestMaxConnectionsPerUser(t *testing.T) {
	auth := newCountingAuth()
	ts := newTestServer(t, withLimits(Limits{MaxConnectionsPerUser: 1}), func(ts *testServer) { ts.h.auth = auth })
	ts.store.Add("alice", "x\n")
	a := ts.dial(t)
	a.Login("alice", "secret pw")

	b := ts.dial(t)
	b.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "second session of alice", b.Cmd("PASS secret pw"), "-ERR [IN-USE] Too many sessions for this user")
	if n := auth.count("alice"); n != 2 {
		t.Errorf("the password was checked %d times, want 2: the slot is claimed after the check", n)
	}
	b.Login("bob", bobPassword)

	pop3test.ExpectPrefix(t, "QUIT", a.Cmd("QUIT"), "+OK")
	waitFor(t, "alice's session released", func() bool {
		_, _, users := ts.h.Limits.conns.Counts()
		return users == 1 // bob
	})
	c := ts.dial(t)
	c.Login("alice", "secret pw")
}

// TestConnectionCountsReleased checks that every way a session ends gives
// back its connection and user counts.
func TestConnectionCountsReleased(t *testing.T) {
	ts := newTestServer(t, remoteClients, withLimits(Limits{AuthFailureDelay: -1}))
	ts.store.Add("alice", "x\n")
	a := ts.dial(t)
	a.Login("alice", "secret pw")
	b := ts.dial(t)
	b.Cmd("USER bob")
	b.Cmd("PASS wrong")
	c := ts.dial(t)
	c.Login("bob", bobPassword)
	if total, ips, users := ts.h.Limits.conns.Counts(); total != 3 || ips != 1 || users != 2 {
		t.Errorf("with 3 sessions: total %d, %d addresses, %d users", total, ips, users)
	}
	a.Cmd("QUIT")
	b.Conn().Close()
	c.Cmd("DELE 99")
	c.Conn().Close()
	waitFor(t, "every count released", func() bool {
		total, ips, users := ts.h.Limits.conns.Counts()
		return total == 0 && ips == 0 && users == 0
	})
}
