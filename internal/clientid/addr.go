package clientid

import (
	"net"
	"net/netip"
)

// IP returns the IP address of addr, unmapped (an IPv4-mapped IPv6 address
// becomes IPv4), or the zero Addr when addr has none (a Unix socket, nil).
func IP(addr net.Addr) netip.Addr {
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	if addr == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Key is what per-client limits and failure counts are kept per: the
// address for IPv4, the /64 network for IPv6 (one host commonly has a
// whole /64). The zero Addr stays zero.
func Key(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.Addr()
	}
	return ip
}

// IsLoopback reports whether the peer at addr is on this host, where
// credentials cannot be sniffed on a network: a loopback address
// (127.0.0.0/8, ::1) or a Unix socket. It is meant for the address of the
// socket itself, never for an address a PROXY header gave.
func IsLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	if addr == nil {
		return false
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
