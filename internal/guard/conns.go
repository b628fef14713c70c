// Package guard is the defence of the mail protocol handlers against
// hostile clients, shared by every handler of the process and kept across
// config reloads: connection counts (Conns), failed-login counts and
// lockouts (Failures), the addresses known to have logged in as a user
// (Known), the times of last logins for LOGIN-DELAY (Logins), and the
// pause of a failed login (Pause).
package guard

import (
	"hash/maphash"
	"net/netip"
	"sync"
)

// Conns counts the open connections of the process, in total,
// per client address and per user name. It is shared by every handler, so
// the counts stay right across config reloads (sessions that began under
// an old config still count). Its maps only hold entries for open
// connections, so its size is bounded by the connection limits.
type Conns struct {
	mu      sync.Mutex
	total   int
	perIP   map[netip.Addr]int
	perUser map[uint64]int
}

func NewConns() *Conns {
	return &Conns{perIP: map[netip.Addr]int{}, perUser: map[uint64]int{}}
}

// ProcessConns is the process-wide connection registry.
var ProcessConns = NewConns()

// Refusals of a connection over a limit, sent after -ERR [SYS/TEMP].
const (
	RefusedTotal = "Too many connections, try again later"
	RefusedPerIP = "Too many connections from your address, try again later"
)

// Admit counts a new connection, or refuses it with the reason when it is
// over maxTotal or, unless the client is exempt, over maxPerIP (0: no
// limit). ipKey is the zero Addr for a client without an IP address.
func (r *Conns) Admit(ipKey netip.Addr, exempt bool, maxTotal, maxPerIP int) (refusal string) {
	countIP := !exempt && ipKey.IsValid()
	r.mu.Lock()
	defer r.mu.Unlock()
	if maxTotal > 0 && r.total >= maxTotal {
		return RefusedTotal
	}
	if countIP && maxPerIP > 0 && r.perIP[ipKey] >= maxPerIP {
		return RefusedPerIP
	}
	r.total++
	if countIP {
		r.perIP[ipKey]++
	}
	return ""
}

// Release uncounts a connection that admit counted.
func (r *Conns) Release(ipKey netip.Addr, exempt bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total--
	if !exempt && ipKey.IsValid() {
		decrement(r.perIP, ipKey)
	}
}

// ClaimUser counts a session logging in as the user with key, unless there
// are already limit of them (0: no limit).
func (r *Conns) ClaimUser(key uint64, limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit > 0 && r.perUser[key] >= limit {
		return false
	}
	r.perUser[key]++
	return true
}

// ReleaseUser uncounts a session that claimUser counted.
func (r *Conns) ReleaseUser(key uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	decrement(r.perUser, key)
}

// decrement lowers a count and forgets it at zero.
func decrement[K comparable](m map[K]int, k K) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// Counts returns the total and the number of tracked addresses and users,
// for tests.
func (r *Conns) Counts() (total, ips, users int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, len(r.perIP), len(r.perUser)
}

// userKeySeed seeds the hash that user names are tracked by, so that the
// registries hold a fixed-size key whatever name a client sends, and a
// client cannot choose names that collide.
var userKeySeed = maphash.MakeSeed()

// UserKey is the registry key of a user name.
func UserKey(user string) uint64 {
	return maphash.String(userKeySeed, user)
}
