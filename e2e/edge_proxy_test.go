//go:build linux

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	proxyproto "github.com/pires/go-proxyproto"
)

// The network edge, tested from hosts that are not loopback (test
// networks of network namespaces, netns_test.go): PROXY headers, lockouts
// and the plaintext policy as a client elsewhere on the network meets
// them.

// edgeListener is one listener of an edge test server.
type edgeListener struct {
	// ip is the address it listens on.
	ip string
	// directives are added to its pop3 block.
	directives string
}

// startEdgeServer starts a Caddy with one pop3 listener per entry of
// listeners, on free ports, alice being the one account, and waits until
// listener 0 greets (from this process: it must accept direct clients).
// It returns the server and the listeners' addresses.
func startEdgeServer(t *testing.T, listeners ...edgeListener) (*server, []string) {
	t.Helper()
	dir := t.TempDir()
	var addrs []string
	s := retryStart(t, func() (*server, error) {
		adminPort := freePort(t)
		addrs = addrs[:0]
		var blocks strings.Builder
		s := &server{MailRoot: filepath.Join(dir, "mail"), Dir: dir, out: &lockedBuffer{}, exited: make(chan struct{}), adminPort: adminPort}
		for _, l := range listeners {
			port := freePort(t)
			addr := mustAddrPort(l.ip, port)
			addrs = append(addrs, addr)
			fmt.Fprintf(&blocks, `		%s {
			route {
				pop3 {
					hostname %s
					storage maildir {
						path %s/{pop3.user}/Maildir
					}
					%s
					%s
				}
			}
		}
`, addr, testHostname, s.MailRoot, defaultAuth(t), l.directives)
		}
		s.Addr = addrs[0]
		home := filepath.Join(dir, "home")
		for _, d := range []string{s.MailRoot, home} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
		s.config = filepath.Join(dir, "Caddyfile")
		text := fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tlayer4 {\n%s\t}\n}\n", adminPort, blocks.String())
		if err := os.WriteFile(s.config, []byte(text), 0o600); err != nil {
			return nil, err
		}
		if err := s.launch(t, []string{"run", "--config", s.config, "--adapter", "caddyfile"}, home, s.waitReady); err != nil {
			return nil, err
		}
		return s, nil
	})
	return s, addrs
}

// dialFrom connects from host to addr, sends header first when it is not
// nil, and checks the greeting.
func dialFrom(t *testing.T, host *netHost, addr string, header []byte) *pop3test.Client {
	t.Helper()
	p := newPOP3(t, host.Dial(t, addr))
	if header != nil {
		p.Send(string(header))
	}
	if g := p.ReadLine(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting from %s to %s: %q", host.Name, addr, g)
	}
	return p
}

// proxyHeader is a PROXY header (version 1 or 2) for a TCP client at
// client (ip:port) connecting to server.
func proxyHeader(t *testing.T, version byte, client, server string) []byte {
	t.Helper()
	src, dst := netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)
	proto := proxyproto.TCPv4
	if src.Addr().Is6() {
		proto = proxyproto.TCPv6
	}
	h := &proxyproto.Header{
		Version: version, Command: proxyproto.PROXY, TransportProtocol: proto,
		SourceAddr: net.TCPAddrFromAddrPort(src), DestinationAddr: net.TCPAddrFromAddrPort(dst),
	}
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectClosedSilently reads c until the server closes it and fails if
// the server wrote anything.
func expectClosedSilently(t *testing.T, what string, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%s: reading until the server closes: %v (got %q)", what, err, got)
	}
	if len(got) != 0 {
		t.Errorf("%s: the server answered %q; want the connection closed before the greeting", what, got)
	}
}

// waitLogLines waits until the server has logged at least n lines with
// message msg that contain every one of parts.
func waitLogLines(t *testing.T, s *server, n int, msg string, parts ...string) []string {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		var match []string
		for _, line := range serverLogLines(s, msg) {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				match = append(match, line)
			}
		}
		if len(match) >= n || time.Now().After(deadline) {
			if len(match) < n {
				t.Fatalf("%d %q log lines with %q, want %d; output:\n%s", len(match), msg, parts, n, s.out.String())
			}
			return match
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const plaintextRefused = "-ERR [AUTH] Plaintext authentication is disabled"

// TestEdgeForgedProxyHeaderRefused: a host that is not the trusted proxy
// sends a PROXY header claiming loopback: the connection is closed before
// the greeting and logged. The trusted proxy's header claiming loopback
// is served, but not as loopback: plaintext logins stay refused.
func TestEdgeForgedProxyHeaderRefused(t *testing.T) {
	n := newTestNet(t, "proxy", "attacker")
	proxy, attacker := n.Host(t, "proxy"), n.Host(t, "attacker")
	s, addrs := startEdgeServer(t,
		edgeListener{ip: n.ServerIP},
		edgeListener{ip: n.ServerIP, directives: "proxy_protocol " + proxy.IP + "/32"},
	)
	direct, behind := addrs[0], addrs[1]

	for _, version := range []byte{1, 2} {
		c := attacker.Dial(t, behind)
		if _, err := c.Write(proxyHeader(t, version, "127.0.0.1:40000", behind)); err != nil {
			t.Fatal(err)
		}
		expectClosedSilently(t, fmt.Sprintf("forged v%d header", version), c)
	}
	waitLogLines(t, s, 2, "connection refused", `"remote_ip":"`+attacker.IP+`"`, "not a trusted proxy")

	p := dialFrom(t, proxy, behind, proxyHeader(t, 2, "127.0.0.1:40000", behind))
	if r := p.Cmd("USER " + testUser); !strings.HasPrefix(r, plaintextRefused) {
		t.Errorf("USER behind the proxy with a header claiming 127.0.0.1: %q, want %q", r, plaintextRefused)
	}
	p.Cmd("QUIT")

	d := dialFrom(t, attacker, direct, nil)
	if r := d.Cmd("USER " + testUser); !strings.HasPrefix(r, plaintextRefused) {
		t.Errorf("USER from a host off loopback: %q, want %q", r, plaintextRefused)
	}
	d.Cmd("QUIT")
}

// TestEdgeProxyHeaderAddressForLockout: behind the trusted proxy, lockouts
// are per header address, a header claiming 127.0.0.1 included (it is not
// exempt as loopback is), and other clients of the same proxy are not
// locked out.
func TestEdgeProxyHeaderAddressForLockout(t *testing.T) {
	n := newTestNet(t, "proxy")
	proxy := n.Host(t, "proxy")
	s, addrs := startEdgeServer(t,
		edgeListener{ip: n.ServerIP},
		edgeListener{ip: n.ServerIP, directives: "proxy_protocol " + proxy.IP + `
					allow_insecure_auth
					auth_failure_delay off
					auth_failure_limit 3
					auth_user_failure_limit off`},
	)
	behind := addrs[1]
	for _, client := range []string{"192.0.2.7", "127.0.0.1"} {
		p := dialFrom(t, proxy, behind, proxyHeader(t, 2, client+":40000", behind))
		for i := range 3 {
			if r := p.LoginReply(testUser, "wrong"); !strings.HasPrefix(r, "-ERR [AUTH]") {
				t.Fatalf("%s: wrong password %d: %q", client, i+1, r)
			}
		}
		if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "-ERR [AUTH]") {
			t.Errorf("%s: right password while its address is locked out: %q", client, r)
		}
		p.Cmd("QUIT")
		waitLogLines(t, s, 1, "authentication lockout", `"remote_ip":"`+client+`"`, `"scope":"ip"`)
	}
	p := dialFrom(t, proxy, behind, proxyHeader(t, 1, "192.0.2.8:40000", behind))
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Errorf("another client of the same proxy: %q", r)
	}
	p.Cmd("QUIT")
	if lines := serverLogLines(s, "authentication lockout"); len(lines) != 2 || strings.Contains(strings.Join(lines, ""), proxy.IP) {
		t.Errorf("lockout log lines: %q; want the two header addresses, never the proxy's", lines)
	}
}

// TestEdgeOwnerLogsInDuringAttack: alice has logged in from her host; an
// attacker host hammers her name (locking the name out) and other names
// (locking its own address out). Alice still logs in from her host; a
// third host with the right password does not, before or after her.
func TestEdgeOwnerLogsInDuringAttack(t *testing.T) {
	n := newTestNet(t, "alice", "attacker", "stranger")
	home, attacker, stranger := n.Host(t, "alice"), n.Host(t, "attacker"), n.Host(t, "stranger")
	s, addrs := startEdgeServer(t, edgeListener{ip: n.ServerIP, directives: `allow_insecure_auth
					auth_failure_delay off
					auth_failure_limit 5
					auth_user_failure_limit 3`})
	addr := addrs[0]

	a := dialFrom(t, home, addr, nil)
	if r := a.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("alice's first login: %q", r)
	}
	a.Cmd("QUIT")

	m := dialFrom(t, attacker, addr, nil)
	for _, user := range []string{testUser, testUser, testUser, "bob", "carol"} {
		if r := m.LoginReply(user, "guess"); !strings.HasPrefix(r, "-ERR [AUTH]") {
			t.Fatalf("attacker guessing %s: %q", user, r)
		}
	}
	waitLogLines(t, s, 1, "authentication lockout", `"remote_ip":"`+attacker.IP+`"`, `"scope":"user"`)
	waitLogLines(t, s, 1, "authentication lockout", `"remote_ip":"`+attacker.IP+`"`, `"scope":"ip"`)
	if r := m.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Errorf("the attacker with the right password: %q", r)
	}

	x := dialFrom(t, stranger, addr, nil)
	if r := x.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Errorf("right password from an unknown host while the name is locked out: %q", r)
	}

	a = dialFrom(t, home, addr, nil)
	if r := a.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Errorf("alice from her own host while her name is locked out: %q", r)
	}
	a.Cmd("QUIT")

	if r := x.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Errorf("right password from an unknown host after alice logged in: %q", r)
	}
	x.Cmd("QUIT")
	m.Cmd("QUIT")
}

// TestEdgeWrongPasswordsDoNotBlockOwner: ten concurrent wrong-password
// logins for alice from an attacker host, all in their failure delay, do
// not make alice's own login get -ERR [IN-USE].
func TestEdgeWrongPasswordsDoNotBlockOwner(t *testing.T) {
	n := newTestNet(t, "alice", "attacker")
	home, attacker := n.Host(t, "alice"), n.Host(t, "attacker")
	s, addrs := startEdgeServer(t, edgeListener{ip: n.ServerIP, directives: `allow_insecure_auth
					auth_failure_delay 20s
					auth_failure_limit off
					auth_user_failure_limit off
					max_connections_per_user 10`})
	addr := addrs[0]

	const attackers = 10
	for range attackers {
		p := dialFrom(t, attacker, addr, nil)
		if r := p.Cmd("USER " + testUser); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("attacker USER: %q", r)
		}
		p.Send("PASS wrong\r\n")
	}
	// Each failure is logged before its delay starts.
	waitLogLines(t, s, attackers, "authentication failed", `"remote_ip":"`+attacker.IP+`"`)

	a := dialFrom(t, home, addr, nil)
	if r := a.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Errorf("alice's login while %d wrong passwords wait out their delay: %q", attackers, r)
	}
	a.Cmd("QUIT")
}

// dialTCP connects from this process to addr.
func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
