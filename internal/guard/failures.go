package guard

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// MaxTracked bounds each table of the failure registry (client
// addresses, user names). An entry is about 150 bytes, so the registry
// stays within a few megabytes whatever clients do; when a table is full
// the entry touched longest ago is forgotten first.
const MaxTracked = 1 << 15

// LockoutPolicy is the effective brute-force policy of a handler. A zero
// limit turns that kind of Lockout off.
type LockoutPolicy struct {
	// IPLimit is how many failures from one client address within
	// Window lock it out; 0: no address lockout.
	IPLimit int
	// UserLimit is how many failures for one user name, from any
	// address, within Window lock the name out; 0: no user lockout.
	UserLimit int
	// Window is the period failures are counted over.
	Window time.Duration
	// Lockout is how long a lockout lasts.
	Lockout time.Duration
}

// Lockout scopes, as logged.
const (
	ScopeIP   = "ip"
	ScopeUser = "user"
)

// Failures counts failed logins per client address and per user
// name. It is process-wide (see ProcessFailures), so counts and lockouts
// survive config reloads, and bounded in memory.
type Failures struct {
	mu    sync.Mutex
	now   func() time.Time
	ips   *failureTable[netip.Addr]
	users *failureTable[uint64]
}

func NewFailures(capacity int) *Failures {
	return &Failures{
		now:   time.Now,
		ips:   newFailureTable[netip.Addr](capacity),
		users: newFailureTable[uint64](capacity),
	}
}

// ProcessFailures is the process-wide failure registry.
var ProcessFailures = NewFailures(MaxTracked)

// LockedOut returns the scope of the Lockout that applies to a login from
// ipKey (the zero Addr: none) as the user with key user (UserKey), or "".
func (r *Failures) LockedOut(ipKey netip.Addr, user uint64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if ipKey.IsValid() && r.ips.locked(ipKey, now) {
		return ScopeIP
	}
	if r.users.locked(user, now) {
		return ScopeUser
	}
	return ""
}

// Lockout says that a failure started a lockout.
type Lockout struct {
	Scope    string    // ScopeIP or ScopeUser
	Failures int       // the failures counted
	Until    time.Time // when it ends
}

// Fail records a failed login and returns the lockouts it started.
func (r *Failures) Fail(ipKey netip.Addr, user uint64, p LockoutPolicy) []Lockout {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var started []Lockout
	if ipKey.IsValid() && p.IPLimit > 0 {
		if n, until := r.ips.fail(ipKey, p.IPLimit, p.Window, p.Lockout, now); !until.IsZero() {
			started = append(started, Lockout{Scope: ScopeIP, Failures: n, Until: until})
		}
	}
	if p.UserLimit > 0 {
		if n, until := r.users.fail(user, p.UserLimit, p.Window, p.Lockout, now); !until.IsZero() {
			started = append(started, Lockout{Scope: ScopeUser, Failures: n, Until: until})
		}
	}
	return started
}

// Succeed forgets the failures of a user name after a successful login.
// The address's failures stay: one good account must not reset the count
// of an address that guesses the passwords of others. A user name that is
// locked out stays locked: the owner logging in from a known address
// must not lift the Lockout for the attacker's addresses.
func (r *Failures) Succeed(user uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users.locked(user, r.now()) {
		return
	}
	r.users.forget(user)
}

// Size returns how many addresses and user names are tracked, for tests.
func (r *Failures) Size() (ips, users int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ips.entries), len(r.users.entries)
}

// failureTable is one table of the registry: a map for lookups and a list
// ordered by last use for eviction.
type failureTable[K comparable] struct {
	capacity int
	entries  map[K]*list.Element
	order    list.List // of *failureRecord[K], most recently touched first
}

// failureRecord is what is known about one address or user name.
type failureRecord[K comparable] struct {
	key         K
	failures    int       // in the current window
	windowStart time.Time // first failure of the window
	lockedUntil time.Time
	expires     time.Time // when the record means nothing any more
}

func newFailureTable[K comparable](capacity int) *failureTable[K] {
	return &failureTable[K]{capacity: capacity, entries: map[K]*list.Element{}}
}

func (t *failureTable[K]) locked(k K, now time.Time) bool {
	e, ok := t.entries[k]
	return ok && now.Before(e.Value.(*failureRecord[K]).lockedUntil)
}

// Fail counts a failure of k. When it reaches limit within window, k is
// locked out until the returned time (zero when this failure did not start
// a Lockout); n is the number of failures counted.
func (t *failureTable[K]) fail(k K, limit int, window, lockFor time.Duration, now time.Time) (n int, until time.Time) {
	rec := t.touch(k, now)
	if now.Before(rec.lockedUntil) {
		// Already locked out: refused logins do not extend it.
		return rec.failures, time.Time{}
	}
	if rec.failures == 0 || now.Sub(rec.windowStart) > window {
		rec.failures, rec.windowStart = 0, now
	}
	rec.failures++
	rec.expires = rec.windowStart.Add(window)
	n = rec.failures
	if n >= limit {
		rec.lockedUntil = now.Add(lockFor)
		rec.failures = 0
		until = rec.lockedUntil
	}
	if rec.lockedUntil.After(rec.expires) {
		rec.expires = rec.lockedUntil
	}
	return n, until
}

// touch returns k's record, creating it, and marks it most recently used.
// It makes room first by dropping expired records from the cold end, then,
// if the table is still full, the coldest record.
func (t *failureTable[K]) touch(k K, now time.Time) *failureRecord[K] {
	if e, ok := t.entries[k]; ok {
		t.order.MoveToFront(e)
		return e.Value.(*failureRecord[K])
	}
	for range 8 {
		back := t.order.Back()
		if back == nil || back.Value.(*failureRecord[K]).expires.After(now) {
			break
		}
		t.remove(back)
	}
	if len(t.entries) >= t.capacity {
		t.remove(t.order.Back())
	}
	rec := &failureRecord[K]{key: k}
	t.entries[k] = t.order.PushFront(rec)
	return rec
}

func (t *failureTable[K]) forget(k K) {
	if e, ok := t.entries[k]; ok {
		t.remove(e)
	}
}

func (t *failureTable[K]) remove(e *list.Element) {
	delete(t.entries, e.Value.(*failureRecord[K]).key)
	t.order.Remove(e)
}
