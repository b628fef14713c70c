package guard

import (
	"container/list"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Bounds of the known-address registry. An entry (one user name and its
// addresses) is about 250 bytes with the map and list overhead, so the
// registry stays under about 4 MiB whatever happens. Only a successful
// login adds to it, so a client that does not know a password cannot
// fill it; when it is full, the user who logged in longest ago is
// forgotten first, and a user's oldest address makes room for a new one.
const (
	// KnownAddressTTL is how long a successful login makes its address
	// known for the user.
	KnownAddressTTL = 30 * 24 * time.Hour
	// MaxKnownUsers bounds the user names remembered.
	MaxKnownUsers = 1 << 14
	// MaxKnownAddrsPerUser bounds the addresses remembered per user.
	MaxKnownAddrsPerUser = 8
)

// Known remembers, per user name, the client addresses
// (clientid.Key: an IPv4 address or an IPv6 /64) that logged in
// successfully as that user within KnownAddressTTL. A user-name Lockout
// does not apply to those addresses, so an attacker elsewhere cannot lock
// the owner out. It is process-wide (see ProcessKnown): it survives
// config reloads, not restarts.
type Known struct {
	mu       sync.Mutex
	now      func() time.Time
	capacity int
	users    map[uint64]*list.Element // of *knownUser
	order    list.List                // most recent login first
}

// knownUser is one user name's known addresses.
type knownUser struct {
	key   uint64
	addrs [MaxKnownAddrsPerUser]knownAddr
}

// knownAddr is one address, by its seeded hash, and when it last logged
// in (Unix seconds; 0: an empty slot).
type knownAddr struct {
	hash uint64
	seen int64
}

func NewKnown(capacity int) *Known {
	return &Known{now: time.Now, capacity: capacity, users: map[uint64]*list.Element{}}
}

// ProcessKnown is the process-wide known-address registry.
var ProcessKnown = NewKnown(MaxKnownUsers)

// addrKeySeed seeds the hash addresses are kept by, so that a client
// cannot choose addresses that collide.
var addrKeySeed = maphash.MakeSeed()

func addrHash(ip netip.Addr) uint64 {
	b := ip.As16()
	return maphash.Bytes(addrKeySeed, b[:])
}

// Record notes a successful login as user from ip.
func (k *Known) Record(user uint64, ip netip.Addr) {
	if !ip.IsValid() {
		return
	}
	h, now := addrHash(ip), k.now().Unix()
	k.mu.Lock()
	defer k.mu.Unlock()
	var u *knownUser
	if e, ok := k.users[user]; ok {
		k.order.MoveToFront(e)
		u = e.Value.(*knownUser)
	} else {
		if len(k.users) >= k.capacity {
			back := k.order.Back()
			delete(k.users, back.Value.(*knownUser).key)
			k.order.Remove(back)
		}
		u = &knownUser{key: user}
		k.users[user] = k.order.PushFront(u)
	}
	slot := 0
	for i, a := range u.addrs {
		if a.seen != 0 && a.hash == h {
			slot = i
			break
		}
		if a.seen < u.addrs[slot].seen {
			slot = i // the oldest, or an empty one
		}
	}
	u.addrs[slot] = knownAddr{hash: h, seen: now}
}

// Known reports whether ip logged in successfully as user within
// KnownAddressTTL.
func (k *Known) Known(user uint64, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	h, oldest := addrHash(ip), k.now().Add(-KnownAddressTTL).Unix()
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.users[user]
	if !ok {
		return false
	}
	for _, a := range e.Value.(*knownUser).addrs {
		if a.seen != 0 && a.hash == h && a.seen >= oldest {
			return true
		}
	}
	return false
}

// Size returns how many user names are remembered, for tests.
func (k *Known) Size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.users)
}
