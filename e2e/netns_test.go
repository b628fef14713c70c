//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A test network: network namespaces of the test's own ("hosts"), each
// joined to the root namespace by a veth pair, so that a client can
// connect from an address that is not loopback. The root namespace's end
// of host i's pair is 10.213.X.(4i+1)/30 and the host's end 10.213.X.(4i+2),
// X picked per network among the /24s no interface of the machine uses;
// the root end of host 0 (ServerIP) is where a test server listens. Only
// the hosts of a network and that server ever talk over it. Everything is
// removed when the test ends, failed or not.
//
// It needs root and iproute2 (`ip`). Without them the test is skipped
// with the reason, except when CI=true: then it fails.

// testNetBase is the /16 test networks are carved from.
const testNetBase = "10.213"

// maxNetHosts bounds the hosts of one network (64 /30s in a /24).
const maxNetHosts = 64

// netOpTimeout bounds each `ip` command.
const netOpTimeout = 20 * time.Second

// testNet is a test network.
type testNet struct {
	// ServerIP is the root namespace's address on the network, where a
	// server listens for the hosts.
	ServerIP string
	// Hosts are the network's hosts, in the order of their names.
	Hosts []*netHost
}

// netHost is one test host: a network namespace with one address.
type netHost struct {
	// Name is the host's name in the test.
	Name string
	// NS is the network namespace (`ip netns exec <NS> ...`).
	NS string
	// IP is the host's address.
	IP string
}

// usedSubnets are the third octets of the networks made by this test
// binary.
var usedSubnets = struct {
	sync.Mutex
	taken map[int]bool
}{taken: map[int]bool{}}

// requireNetns skips the test (fails it with CI=true) when this process
// cannot make network namespaces.
func requireNetns(t *testing.T) {
	t.Helper()
	why := ""
	switch {
	case os.Geteuid() != 0:
		why = "making network namespaces needs root"
	default:
		if _, err := exec.LookPath("ip"); err != nil {
			why = "ip is not installed (apt-get install iproute2)"
		}
	}
	if why == "" {
		probe := "p3probe-" + randomHex(t, 4)
		if out, err := runIP(t, "netns", "add", probe); err != nil {
			why = "cannot make a network namespace: " + out
		} else if out, err := runIP(t, "netns", "del", probe); err != nil {
			t.Fatalf("removing the probe namespace %s: %v: %s", probe, err, out)
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and the test network cannot be made: %s", why)
	}
	t.Skipf("no test network: %s", why)
}

// newTestNet makes a network with one host per name.
func newTestNet(t *testing.T, names ...string) *testNet {
	t.Helper()
	requireNetns(t)
	if len(names) == 0 || len(names) > maxNetHosts {
		t.Fatalf("a test network has 1 to %d hosts, not %d", maxNetHosts, len(names))
	}
	x := pickSubnet(t)
	t.Cleanup(func() {
		usedSubnets.Lock()
		delete(usedSubnets.taken, x)
		usedSubnets.Unlock()
	})
	id := randomHex(t, 3)
	n := &testNet{ServerIP: fmt.Sprintf("%s.%d.1", testNetBase, x)}
	for i, name := range names {
		h := &netHost{Name: name, NS: fmt.Sprintf("p3t-%s-%d", id, i), IP: fmt.Sprintf("%s.%d.%d", testNetBase, x, 4*i+2)}
		rootIf, hostIf := fmt.Sprintf("p3%sr%d", id, i), fmt.Sprintf("p3%sh%d", id, i)
		gateway := fmt.Sprintf("%s.%d.%d", testNetBase, x, 4*i+1)
		// Removing the namespace removes its end of the pair, and so
		// the pair; the root end is removed too in case the namespace
		// never got it.
		t.Cleanup(func() {
			_, _ = runIP(t, "netns", "del", h.NS)
			_, _ = runIP(t, "link", "del", rootIf)
		})
		for _, args := range [][]string{
			{"netns", "add", h.NS},
			{"link", "add", rootIf, "type", "veth", "peer", "name", hostIf},
			{"link", "set", hostIf, "netns", h.NS},
			{"addr", "add", gateway + "/30", "dev", rootIf},
			{"link", "set", rootIf, "up"},
			{"-n", h.NS, "link", "set", "lo", "up"},
			{"-n", h.NS, "addr", "add", h.IP + "/30", "dev", hostIf},
			{"-n", h.NS, "link", "set", hostIf, "up"},
		} {
			if out, err := runIP(t, args...); err != nil {
				t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
		if i > 0 {
			if out, err := runIP(t, "-n", h.NS, "route", "add", n.ServerIP+"/32", "via", gateway); err != nil {
				t.Fatalf("ip -n %s route add: %v: %s", h.NS, err, out)
			}
		}
		n.Hosts = append(n.Hosts, h)
	}
	// The root end of host 0's pair is ServerIP; the other hosts reach
	// it through their own pair, by the route each was given.
	return n
}

// Host returns the host with the given name.
func (n *testNet) Host(t *testing.T, name string) *netHost {
	t.Helper()
	for _, h := range n.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no test host %q", name)
	return nil
}

// pickSubnet picks X for 10.213.X.0/24: not used by this binary, and not
// by any address or route of the machine.
func pickSubnet(t *testing.T) int {
	t.Helper()
	addrs, err := exec.Command("ip", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr show: %v: %s", err, addrs)
	}
	routes, err := exec.Command("ip", "-o", "route", "show", "table", "all").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route show: %v: %s", err, routes)
	}
	inUse := string(addrs) + string(routes)
	usedSubnets.Lock()
	defer usedSubnets.Unlock()
	for range 256 {
		r, err := rand.Int(rand.Reader, big.NewInt(256))
		if err != nil {
			t.Fatal(err)
		}
		x := int(r.Int64())
		prefix := fmt.Sprintf("%s.%d.", testNetBase, x)
		if usedSubnets.taken[x] || strings.Contains(inUse, prefix) {
			continue
		}
		usedSubnets.taken[x] = true
		return x
	}
	t.Fatal("no free /24 in " + testNetBase + ".0.0/16")
	return 0
}

// runIP runs `ip <args>` with a bounded time and returns its output.
func runIP(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), netOpTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// Run runs a program on the host (`ip netns exec`), with a bounded time,
// and returns its stdout, stderr and exit code.
func (h *netHost) Run(t *testing.T, dir, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCommand(t, dir, nil, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Dial connects from the host to addr (host:port) and returns the
// connection: a relay program on the host (testdata/relay.py, run with
// `ip netns exec`) holds the socket, and the returned conn talks to it
// over pipes. Its deadlines work as a socket's do.
func (h *netHost) Dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	python := requireTool(t, "python3", "python3")
	relay, err := filepath.Abs(filepath.Join("testdata", "relay.py"))
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", h.NS, python, "-u", relay, host, port)
	cmd.Stdin, cmd.Stdout = inR, outW
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the relay on %s: %v", h.Name, err)
	}
	inR.Close()
	outW.Close()
	c := &relayConn{cmd: cmd, in: inW, out: outR, stderr: stderr, done: make(chan struct{}),
		local: h.IP, remote: addr}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.Close()
		if t.Failed() && stderr.String() != "" {
			t.Logf("relay on %s to %s: %s", h.Name, addr, stderr.String())
		}
	})
	return c
}

// relayConn is a connection held by a relay program on a test host.
type relayConn struct {
	cmd           *exec.Cmd
	in            *os.File // the relay's stdin: what we send
	out           *os.File // the relay's stdout: what we receive
	stderr        *lockedBuffer
	done          chan struct{}
	closeOnce     sync.Once
	local, remote string
}

func (c *relayConn) Read(p []byte) (int, error)  { return c.out.Read(p) }
func (c *relayConn) Write(p []byte) (int, error) { return c.in.Write(p) }

// Close ends the relay, and so the connection.
func (c *relayConn) Close() error {
	c.closeOnce.Do(func() {
		c.in.Close()
		_ = c.cmd.Process.Kill()
		<-c.done
		c.out.Close()
	})
	return nil
}

// CloseWrite half-closes the connection.
func (c *relayConn) CloseWrite() error { return c.in.Close() }

func (c *relayConn) LocalAddr() net.Addr  { return relayAddr(c.local) }
func (c *relayConn) RemoteAddr() net.Addr { return relayAddr(c.remote) }

func (c *relayConn) SetDeadline(t time.Time) error {
	return errorsJoin(c.out.SetReadDeadline(t), c.in.SetWriteDeadline(t))
}
func (c *relayConn) SetReadDeadline(t time.Time) error  { return c.out.SetReadDeadline(t) }
func (c *relayConn) SetWriteDeadline(t time.Time) error { return c.in.SetWriteDeadline(t) }

// relayAddr is the address of one end of a relayed connection.
type relayAddr string

func (a relayAddr) Network() string { return "tcp" }
func (a relayAddr) String() string  { return string(a) }

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Interface guards
var _ net.Conn = (*relayConn)(nil)

// serverLogLines returns the JSON log lines of a server's output whose
// "msg" is msg.
func serverLogLines(s *server, msg string) []string {
	var out []string
	for _, line := range strings.Split(s.out.String(), "\n") {
		if bytes.Contains([]byte(line), []byte(`"msg":"`+msg+`"`)) {
			out = append(out, line)
		}
	}
	return out
}

// mustAddrPort joins an IP and a port.
func mustAddrPort(ip string, port int) string {
	return netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port)).String()
}
