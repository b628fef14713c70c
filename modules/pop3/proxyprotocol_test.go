package pop3

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// behindProxy serves the test server's clients as Handle does with
// `proxy_protocol <trusted>...`, logging to logs when it is not nil.
func behindProxy(logs **observer.ObservedLogs, trusted ...string) func(*testServer) {
	return func(ts *testServer) {
		ts.proxied = true
		ts.loopback = false
		ts.h.ProxyProtocol = &ProxyProtocol{Trusted: trusted, Timeout: caddy.Duration(200 * time.Millisecond)}
		if err := ts.h.ProxyProtocol.provision(); err != nil {
			panic(err)
		}
		if logs != nil {
			core, l := observer.New(zap.DebugLevel)
			ts.h.logger, *logs = zap.New(core), l
		}
	}
}

// proxyV1 is a PROXY v1 header for a TCP client at ip.
func proxyV1(ip string) string {
	family := "TCP4"
	if netip.MustParseAddr(ip).Is6() {
		family = "TCP6"
	}
	dst := "127.0.0.1"
	if family == "TCP6" {
		dst = "::1"
	}
	return "PROXY " + family + " " + ip + " " + dst + " 40000 110\r\n"
}

// dialAs connects through the (pretend) proxy as a client at ip and
// reads the greeting.
func (ts *testServer) dialAs(t *testing.T, ip string) *pop3test.Client {
	t.Helper()
	c := ts.dialRaw(t)
	c.Send(proxyV1(ip))
	if g := c.ReadLine(); !strings.HasPrefix(g, "+OK ") {
		t.Fatalf("greeting: %q", g)
	}
	return c
}

// TestProxyProtocolPlaintextPolicy: a PROXY header claiming loopback does
// not make the client loopback: plaintext credentials are refused.
func TestProxyProtocolPlaintextPolicy(t *testing.T) {
	ts := newTestServer(t, behindProxy(nil, "127.0.0.1"))
	ts.store.Add("alice", "x\n")
	for _, ip := range []string{"127.0.0.1", "::1", "192.0.2.7"} {
		c := ts.dialAs(t, ip)
		pop3test.ExpectPrefix(t, ip+": USER", c.Cmd("USER alice"), "-ERR "+pop3server.ReplyPlaintextRefused)
		pop3test.ExpectPrefix(t, ip+": AUTH PLAIN", c.Cmd("AUTH PLAIN AGFsaWNlAHNlY3JldCBwdw=="), "-ERR "+pop3server.ReplyPlaintextRefused)
		c.Send("CAPA\r\n")
		c.ReadLine()
		if capa := c.Multi(); strings.Contains(capa, "SASL") || strings.Contains(capa, "USER") {
			t.Errorf("%s: CAPA offers plaintext logins:\n%s", ip, capa)
		}
	}
}

// TestProxyProtocolAddressForLimits: the header's address is the one
// lockouts, per-address limits and log lines use, a claimed loopback
// address included.
func TestProxyProtocolAddressForLimits(t *testing.T) {
	var logs *observer.ObservedLogs
	l := Limits{AuthFailureLimit: 3, AuthUserFailureLimit: -1, MaxConnectionsPerIP: 2}
	ts := newTestServer(t, withLimits(l), behindProxy(&logs, "127.0.0.1"), func(ts *testServer) {
		ts.h.AllowInsecureAuth = true
		ts.h.Limits.pause = (&pauseLog{}).pause
	})
	ts.store.Add("alice", "x\n")
	for _, ip := range []string{"192.0.2.7", "127.0.0.1"} {
		c := ts.dialAs(t, ip)
		for range 3 {
			c.Cmd("USER alice")
			pop3test.ExpectPrefix(t, ip+": wrong password", c.Cmd("PASS nope"), "-ERR [AUTH]")
		}
		c.Cmd("USER alice")
		pop3test.ExpectPrefix(t, ip+": right password while locked out", c.Cmd("PASS secret pw"), "-ERR [AUTH]")
		lock := logs.FilterMessage("authentication lockout").FilterField(zap.String("remote_ip", ip))
		if lock.Len() != 1 {
			t.Errorf("%s: %d lockout log lines with its address", ip, lock.Len())
		}
		c.Cmd("QUIT")
	}
	waitSessionsGone(t)
	other := ts.dialAs(t, "192.0.2.8")
	other.Login("alice", "secret pw")
	other.Cmd("QUIT")

	a, b := ts.dialAs(t, "198.51.100.9"), ts.dialAs(t, "198.51.100.9")
	third := ts.dialRaw(t)
	third.Send(proxyV1("198.51.100.9"))
	pop3test.ExpectPrefix(t, "third connection of one header address", third.ReadLine(), "-ERR [SYS/TEMP] "+guard.RefusedPerIP)
	ts.dialAs(t, "198.51.100.10") // another address is not limited
	a.Cmd("QUIT")
	b.Cmd("QUIT")
}

// TestProxyProtocolRefusals: a peer that is not a trusted proxy, and a
// trusted one that sends no valid header, are closed before the greeting,
// with a log line, and nothing written.
func TestProxyProtocolRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted string
		send    string
		reason  string
	}{
		{"untrusted peer with a header claiming loopback", "10.0.0.0/8", proxyV1("127.0.0.1"), "not a trusted proxy"},
		{"untrusted peer without a header", "10.0.0.0/8", "CAPA\r\n", "not a trusted proxy"},
		{"trusted peer without a header", "127.0.0.1", "USER alice\r\n", "no PROXY header"},
		{"trusted peer that stays silent", "127.0.0.1", "", "no PROXY header"},
		{"trusted peer with a bad header", "127.0.0.1", "PROXY TCP4 1.2.3.4\r\n", "invalid PROXY header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs *observer.ObservedLogs
			ts := newTestServer(t, behindProxy(&logs, tc.trusted))
			conn, err := net.Dial("tcp", ts.ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if tc.send != "" {
				if _, err := conn.Write([]byte(tc.send)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := io.ReadAll(conn)
			if len(got) != 0 {
				t.Errorf("the server wrote %q to a refused connection", got)
			}
			if err != nil && !isConnReset(err) {
				t.Errorf("reading until close: %v", err)
			}
			waitFor(t, "the refusal is logged", func() bool { return logs.FilterMessage("connection refused").Len() == 1 })
			e := logs.FilterMessage("connection refused").All()[0]
			if e.Level != zap.WarnLevel || e.ContextMap()["remote_ip"] != "127.0.0.1" || !strings.Contains(e.ContextMap()["reason"].(string), tc.reason) {
				t.Errorf("log line: %v %v", e.Level, e.ContextMap())
			}
		})
	}
}

// isConnReset reports a connection the server closed with unread data.
func isConnReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// TestKnownAddressBypassesUserLockout: an attacker who hammers alice's
// name locks out its own address and the name, but alice still logs in
// from an address she logged in from before; other addresses stay locked
// out, and her login does not lift the lockout for them.
func TestKnownAddressBypassesUserLockout(t *testing.T) {
	var logs *observer.ObservedLogs
	l := Limits{AuthFailureLimit: 3, AuthUserFailureLimit: 3}
	ts := newTestServer(t, withLimits(l), behindProxy(&logs, "127.0.0.1"), func(ts *testServer) {
		ts.h.AllowInsecureAuth = true
		ts.h.Limits.pause = (&pauseLog{}).pause
	})
	ts.store.Add("alice", "x\n")
	const home, attacker, stranger = "192.0.2.10", "198.51.100.66", "203.0.113.5"

	c := ts.dialAs(t, home)
	c.Login("alice", "secret pw")
	c.Cmd("QUIT")
	waitSessionsGone(t)

	a := ts.dialAs(t, attacker)
	for range 5 {
		a.Cmd("USER alice")
		pop3test.ExpectPrefix(t, "attacker", a.Cmd("PASS guess"), "-ERR [AUTH]")
	}
	if n := logs.FilterMessage("authentication lockout").Len(); n != 2 {
		t.Fatalf("%d lockouts, want 2 (the attacker's address and alice's name)", n)
	}

	s := ts.dialAs(t, stranger)
	s.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "right password from an unknown address", s.Cmd("PASS secret pw"), "-ERR [AUTH]")

	h := ts.dialAs(t, home)
	h.Login("alice", "secret pw")
	h.Cmd("QUIT")
	waitFor(t, "alice's session ended", func() bool {
		_, _, users := ts.h.Limits.conns.Counts()
		return users == 0
	})

	s.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "unknown address after alice logged in", s.Cmd("PASS secret pw"), "-ERR [AUTH]")
	a.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "the attacker's address", a.Cmd("PASS secret pw"), "-ERR [AUTH]")
}

func TestProxyProtocolValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    ProxyProtocol
		want string
	}{
		{"no trusted proxy", ProxyProtocol{}, "proxy_protocol: no trusted proxy"},
		{"bad network", ProxyProtocol{Trusted: []string{"10.0.0.0/40"}}, "proxy_protocol: invalid network"},
		{"negative timeout", ProxyProtocol{Trusted: []string{"10.0.0.2"}, Timeout: -1}, "proxy_protocol: timeout"},
		{"long timeout", ProxyProtocol{Trusted: []string{"10.0.0.2"}, Timeout: caddy.Duration(time.Hour)}, "proxy_protocol: timeout"},
		{"fine", ProxyProtocol{Trusted: []string{"10.0.0.2", "2001:db8::/32"}, Timeout: caddy.Duration(time.Second)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{IdleTimeout: caddy.Duration(DefaultIdleTimeout), ProxyProtocol: &tc.p}
			err := h.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}
