package clientid

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// v2 returns a PROXY v2 header for a TCP client src to dst.
func v2(t *testing.T, proto proxyproto.AddressFamilyAndProtocol, cmd proxyproto.ProtocolVersionAndCommand, src, dst string) []byte {
	t.Helper()
	h := &proxyproto.Header{Version: 2, Command: cmd, TransportProtocol: proto}
	if src != "" {
		s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
		if proto.IsDatagram() {
			h.SourceAddr, h.DestinationAddr = net.UDPAddrFromAddrPort(s), net.UDPAddrFromAddrPort(d)
		} else {
			h.SourceAddr, h.DestinationAddr = net.TCPAddrFromAddrPort(s), net.TCPAddrFromAddrPort(d)
		}
	}
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// acceptOne makes a loopback connection, sends send from the client end
// and runs Accept on the server end.
func acceptOne(t *testing.T, p ProxyPolicy, send []byte) (net.Conn, Identity, error, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	if len(send) > 0 {
		if _, err := client.Write(send); err != nil {
			t.Fatal(err)
		}
	}
	conn, id, err := p.Accept(server)
	return conn, id, err, client
}

func TestProxyPolicyAccept(t *testing.T) {
	trusted := ProxyPolicy{Trusted: Networks{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 200 * time.Millisecond}
	untrusted := ProxyPolicy{Trusted: Networks{netip.MustParsePrefix("10.0.0.0/8")}}
	after := []byte("CAPA\r\n")
	tests := []struct {
		name     string
		policy   ProxyPolicy
		send     []byte
		wantErr  error  // nil: accepted
		anyErr   bool   // some other error
		wantAddr string // the client's address, "peer" for the socket's peer
	}{
		{name: "untrusted peer with a valid header", policy: untrusted,
			send: v2(t, proxyproto.TCPv4, proxyproto.PROXY, "192.0.2.7:5555", "10.0.0.1:110"), wantErr: ErrUntrustedPeer},
		{name: "v1 header", policy: trusted,
			send: []byte("PROXY TCP4 192.0.2.7 10.0.0.1 5555 110\r\n"), wantAddr: "192.0.2.7:5555"},
		{name: "v2 header", policy: trusted,
			send: v2(t, proxyproto.TCPv6, proxyproto.PROXY, "[2001:db8::7]:5555", "[2001:db8::1]:110"), wantAddr: "[2001:db8::7]:5555"},
		{name: "v2 header claiming loopback", policy: trusted,
			send: v2(t, proxyproto.TCPv4, proxyproto.PROXY, "127.0.0.1:5555", "127.0.0.1:110"), wantAddr: "127.0.0.1:5555"},
		{name: "v2 LOCAL (health check)", policy: trusted,
			send: v2(t, proxyproto.UNSPEC, proxyproto.LOCAL, "", ""), wantAddr: "peer"},
		{name: "v1 UNKNOWN", policy: trusted,
			send: []byte("PROXY UNKNOWN\r\n"), wantAddr: "peer"},
		{name: "v2 UDP", policy: trusted,
			send: v2(t, proxyproto.UDPv4, proxyproto.PROXY, "192.0.2.7:5555", "10.0.0.1:110"), anyErr: true},
		{name: "no header, a command", policy: trusted, send: []byte("CAPA\r\n"), wantErr: ErrNoHeader},
		{name: "silent peer", policy: trusted, wantErr: ErrNoHeader},
		{name: "garbled v1", policy: trusted, send: []byte("PROXY TCP4 nonsense\r\n"), anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send := tt.send
			if tt.wantAddr != "" {
				send = append(append([]byte{}, send...), after...)
			}
			conn, id, err, client := acceptOne(t, tt.policy, send)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			case tt.anyErr:
				if err == nil || errors.Is(err, ErrNoHeader) || errors.Is(err, ErrUntrustedPeer) {
					t.Fatalf("err = %v, want an invalid-header error", err)
				}
				return
			case err != nil:
				t.Fatalf("Accept: %v", err)
			}
			want := tt.wantAddr
			if want == "peer" {
				want = client.LocalAddr().String()
			}
			if got := conn.RemoteAddr().String(); got != want {
				t.Errorf("RemoteAddr = %s, want %s", got, want)
			}
			if id.Addr.String() != want || id.IP != IP(id.Addr) {
				t.Errorf("identity %+v, want address %s", id, want)
			}
			if id.Loopback {
				t.Errorf("a client known through a PROXY header is loopback: %+v", id)
			}
			if !id.Proxied || id.Peer.String() != client.LocalAddr().String() {
				t.Errorf("identity %+v: want proxied by %s", id, client.LocalAddr())
			}
			got := make([]byte, len(after))
			if _, err := io.ReadFull(conn, got); err != nil || string(got) != string(after) {
				t.Errorf("after the header: %q, %v; want %q", got, err, after)
			}
		})
	}
}

func TestDirect(t *testing.T) {
	_, id, err, _ := acceptOne(t, ProxyPolicy{}, nil)
	if !errors.Is(err, ErrUntrustedPeer) {
		t.Fatalf("an empty policy trusts someone: %v", err)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	id = Direct(c1)
	if id.Proxied || id.IP.IsValid() {
		t.Errorf("pipe identity %+v", id)
	}
}

func TestNetworks(t *testing.T) {
	n, err := ParseNetworks([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:198.51.100.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{
		"10.1.2.3": true, "11.0.0.1": false, "192.0.2.7": true, "192.0.2.8": false,
		"2001:db8::1": true, "2001:db9::1": false, "::ffff:10.0.0.1": true, "198.51.100.9": true,
	} {
		if got := n.Contains(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", ip, got, want)
		}
	}
	if n.Contains(netip.Addr{}) {
		t.Error("the zero address is in a network")
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "", "10.0.0.1/"} {
		if _, err := ParseNetwork(bad); err == nil {
			t.Errorf("ParseNetwork(%q) succeeded", bad)
		}
	}
}

func TestKey(t *testing.T) {
	if got := Key(netip.MustParseAddr("2001:db8::1:2:3:4")); got != netip.MustParseAddr("2001:db8::") {
		t.Errorf("IPv6 key = %s", got)
	}
	if got := Key(netip.MustParseAddr("192.0.2.7")); got != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("IPv4 key = %s", got)
	}
	if got := IP(&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.9"), Port: 1}); got != netip.MustParseAddr("192.0.2.9") {
		t.Errorf("IP of a mapped address: %s", got)
	}
	if got := IP(&net.UnixAddr{Name: "/x", Net: "unix"}); got.IsValid() {
		t.Errorf("IP of a Unix socket: %s", got)
	}
	if !IsLoopback(&net.UnixAddr{Name: "/x", Net: "unix"}) || !IsLoopback(&net.TCPAddr{IP: net.ParseIP("::1")}) || IsLoopback(&net.TCPAddr{IP: net.ParseIP("10.0.0.1")}) {
		t.Error("IsLoopback")
	}
}
