package pop3

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// maxTrackedFailures bounds each table of the failure registry (client
// addresses, user names). An entry is about 150 bytes, so the registry
// stays within a few megabytes whatever clients do; when a table is full
// the entry touched longest ago is forgotten first.
const maxTrackedFailures = 1 << 15

// lockoutPolicy is the effective brute-force policy of a handler. A zero
// limit turns that kind of lockout off.
type lockoutPolicy struct {
	ipLimit   int
	userLimit int
	window    time.Duration
	lockout   time.Duration
}

// Lockout scopes, as logged.
const (
	scopeIP   = "ip"
	scopeUser = "user"
)

// failureRegistry counts failed logins per client address and per user
// name. It is process-wide (see processFailures), so counts and lockouts
// survive config reloads, and bounded in memory.
type failureRegistry struct {
	mu    sync.Mutex
	now   func() time.Time
	ips   *failureTable[netip.Addr]
	users *failureTable[uint64]
}

func newFailureRegistry(capacity int) *failureRegistry {
	return &failureRegistry{
		now:   time.Now,
		ips:   newFailureTable[netip.Addr](capacity),
		users: newFailureTable[uint64](capacity),
	}
}

// processFailures is the process-wide failure registry.
var processFailures = newFailureRegistry(maxTrackedFailures)

// lockedOut returns the scope of the lockout that applies to a login from
// ipKey (the zero Addr: none) as the user with userKey, or "".
func (r *failureRegistry) lockedOut(ipKey netip.Addr, userKey uint64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if ipKey.IsValid() && r.ips.locked(ipKey, now) {
		return scopeIP
	}
	if r.users.locked(userKey, now) {
		return scopeUser
	}
	return ""
}

// lockout says that a failure started a lockout.
type lockout struct {
	scope    string
	failures int
	until    time.Time
}

// fail records a failed login and returns the lockouts it started.
func (r *failureRegistry) fail(ipKey netip.Addr, userKey uint64, p lockoutPolicy) []lockout {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var started []lockout
	if ipKey.IsValid() && p.ipLimit > 0 {
		if n, until := r.ips.fail(ipKey, p.ipLimit, p.window, p.lockout, now); !until.IsZero() {
			started = append(started, lockout{scopeIP, n, until})
		}
	}
	if p.userLimit > 0 {
		if n, until := r.users.fail(userKey, p.userLimit, p.window, p.lockout, now); !until.IsZero() {
			started = append(started, lockout{scopeUser, n, until})
		}
	}
	return started
}

// succeed forgets the failures of a user name after a successful login.
// The address's failures stay: one good account must not reset the count
// of an address that guesses the passwords of others. A user name that is
// locked out stays locked: the owner logging in from a known address
// must not lift the lockout for the attacker's addresses.
func (r *failureRegistry) succeed(userKey uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users.locked(userKey, r.now()) {
		return
	}
	r.users.forget(userKey)
}

// size returns how many addresses and user names are tracked, for tests.
func (r *failureRegistry) size() (ips, users int) {
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

// fail counts a failure of k. When it reaches limit within window, k is
// locked out until the returned time (zero when this failure did not start
// a lockout); n is the number of failures counted.
func (t *failureTable[K]) fail(k K, limit int, window, lockout time.Duration, now time.Time) (n int, until time.Time) {
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
		rec.lockedUntil = now.Add(lockout)
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

// failureRegistry returns the registry these limits count failures in.
func (l *Limits) failureRegistry() *failureRegistry {
	if l.failures != nil {
		return l.failures
	}
	return processFailures
}
