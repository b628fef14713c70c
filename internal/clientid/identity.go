package clientid

import (
	"net"
	"net/netip"
)

// Identity is who a connection's client is.
type Identity struct {
	// Addr is the client's address: the socket's peer, or the source a
	// PROXY header gave.
	Addr net.Addr
	// IP is Addr's IP address (unmapped); zero when it has none.
	IP netip.Addr
	// Loopback is true when the client is on this host (see IsLoopback).
	// It is never true for a client known through a PROXY header.
	Loopback bool
	// Peer is the socket's peer: the proxy when Proxied, else Addr.
	Peer net.Addr
	// Proxied is true when Addr came from a PROXY header.
	Proxied bool
}

// Direct is the identity of a client that connected itself: its address is
// the socket's peer.
func Direct(conn net.Conn) Identity {
	addr := conn.RemoteAddr()
	return Identity{Addr: addr, IP: IP(addr), Loopback: IsLoopback(addr), Peer: addr}
}
