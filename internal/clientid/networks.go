package clientid

import (
	"fmt"
	"net/netip"
	"strings"
)

// Networks is a set of IP networks, such as trusted_networks or the peers
// allowed to send PROXY headers.
type Networks []netip.Prefix

// ParseNetwork parses a CIDR prefix ("10.0.0.0/8", masked to its network)
// or a single address ("10.0.0.2", a /32 or /128).
func ParseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid network %q: %v", s, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(0, p.Bits()-96))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %q: %v", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseNetworks parses each of list with ParseNetwork.
func ParseNetworks(list []string) (Networks, error) {
	n := make(Networks, 0, len(list))
	for _, s := range list {
		p, err := ParseNetwork(s)
		if err != nil {
			return nil, err
		}
		n = append(n, p)
	}
	return n, nil
}

// Contains reports whether ip is in one of the networks. The zero Addr is
// in none.
func (n Networks) Contains(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range n {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
