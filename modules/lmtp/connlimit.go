package lmtp

import (
	"net/netip"
	"sync"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
)

// connections counts the LMTP connections of the process, in all and by
// client address, across every handler and config.
var connections = &connCounter{perIP: map[netip.Addr]int{}}

// connCounter counts open connections.
type connCounter struct {
	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// acquire counts a new connection from ip, unless that would pass max
// (all connections) or perIP (this address's); a negative bound is no
// bound. It returns the function that uncounts it, or false.
func (c *connCounter) acquire(ip netip.Addr, max, perIP int) (func(), bool) {
	key := clientid.Key(ip)
	c.mu.Lock()
	defer c.mu.Unlock()
	if max >= 0 && c.total >= max {
		return nil, false
	}
	if perIP >= 0 && c.perIP[key] >= perIP {
		return nil, false
	}
	c.total++
	c.perIP[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.total--
			if c.perIP[key]--; c.perIP[key] <= 0 {
				delete(c.perIP, key)
			}
		})
	}, true
}
