package clientid

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// DefaultProxyTimeout is how long a trusted peer may take to send its
// PROXY header when ProxyPolicy.Timeout is zero.
const DefaultProxyTimeout = 5 * time.Second

// headerBufferSize is the read buffer for a PROXY header: a whole v1 line
// (at most 107 octets) must fit, and v2 headers with TLVs may be longer.
const headerBufferSize = 512

// Errors of ProxyPolicy.Accept. The connection is unusable after any of
// them and must be closed without a word of the protocol.
var (
	// ErrUntrustedPeer: the peer is not one of the trusted proxies.
	ErrUntrustedPeer = errors.New("peer is not a trusted proxy")
	// ErrNoHeader: a trusted peer did not begin with a PROXY header
	// within the timeout.
	ErrNoHeader = errors.New("trusted proxy sent no PROXY header")
)

// ProxyPolicy is how a listener behind a load balancer learns its clients'
// addresses: every connection must come from a Trusted peer and begin with
// a PROXY protocol header (v1 or v2) within Timeout; the client is the
// header's source address. There is no fallback: a connection from any
// other peer, or one without a valid header, is refused. So an address
// can only be claimed by a proxy the configuration names.
type ProxyPolicy struct {
	// Trusted are the proxies' networks.
	Trusted Networks
	// Timeout bounds reading the header; zero means DefaultProxyTimeout.
	Timeout time.Duration
}

// Accept reads the PROXY header of conn under the policy. It returns the
// connection to serve (its RemoteAddr is the client's, and its reads start
// right after the header) and the client's identity. On an error, nothing
// but the header has been read and nothing written.
func (p ProxyPolicy) Accept(conn net.Conn) (net.Conn, Identity, error) {
	peer := conn.RemoteAddr()
	if !p.Trusted.Contains(IP(peer)) {
		return nil, Identity{}, ErrUntrustedPeer
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultProxyTimeout
	}
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, Identity{}, err
	}
	br := bufio.NewReaderSize(conn, headerBufferSize)
	hdr, err := proxyproto.Read(br)
	if err != nil {
		var ne net.Error
		if errors.Is(err, proxyproto.ErrNoProxyProtocol) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil, Identity{}, ErrNoHeader
		}
		return nil, Identity{}, fmt.Errorf("invalid PROXY header: %w", err)
	}
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return nil, Identity{}, err
	}
	client, err := headerSource(hdr, peer)
	if err != nil {
		return nil, Identity{}, err
	}
	id := Identity{Addr: client, IP: IP(client), Peer: peer, Proxied: true}
	return &proxiedConn{Conn: conn, r: br, remote: client}, id, nil
}

// headerSource is the client address a header gives. A LOCAL header (the
// proxy's own connection, a health check) and v1's "PROXY UNKNOWN" carry
// no client: the peer itself is the client, as the protocol says. Only
// TCP over IPv4 or IPv6 is served; a header for UDP or a Unix socket is
// refused.
func headerSource(hdr *proxyproto.Header, peer net.Addr) (net.Addr, error) {
	if hdr.Command.IsLocal() || hdr.TransportProtocol == proxyproto.UNSPEC {
		return peer, nil
	}
	if !hdr.TransportProtocol.IsStream() || hdr.TransportProtocol.IsUnix() {
		return nil, fmt.Errorf("PROXY header for an unsupported transport (%#x); only TCP is served", byte(hdr.TransportProtocol))
	}
	src, ok := hdr.SourceAddr.(*net.TCPAddr)
	if !ok || src.IP == nil || src.IP.IsUnspecified() {
		return nil, errors.New("PROXY header without a client address")
	}
	return src, nil
}

// proxiedConn is a connection after its PROXY header: reads first drain
// what was read past the header, and RemoteAddr is the client's.
type proxiedConn struct {
	net.Conn
	r      *bufio.Reader // nil once drained
	remote net.Addr
}

// Read reads what followed the header, then from the connection.
func (c *proxiedConn) Read(b []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(b)
		}
		c.r = nil
	}
	return c.Conn.Read(b)
}

// RemoteAddr is the client's address from the PROXY header.
func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }

// Interface guards
var _ net.Conn = (*proxiedConn)(nil)
