package guard

import (
	"strconv"
	"testing"
	"time"
)

// fakeClock is a settable clock for the registries.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func TestFailureRegistryWindowAndLockout(t *testing.T) {
	clock := newClock()
	r := NewFailures(100)
	r.now = clock.now
	ip := mustAddr(t, "192.0.2.1")
	alice, bob := UserKey("alice"), UserKey("bob")
	p := LockoutPolicy{IPLimit: 3, UserLimit: 5, Window: time.Minute, Lockout: 10 * time.Minute}

	// Two failures, then the window passes: the count starts again.
	r.Fail(ip, alice, p)
	r.Fail(ip, alice, p)
	clock.advance(time.Minute + time.Second)
	if got := r.Fail(ip, bob, p); len(got) != 0 {
		t.Fatalf("a failure in a new window started a lockout: %+v", got)
	}
	r.Fail(ip, bob, p)
	got := r.Fail(ip, bob, p)
	if len(got) != 1 || got[0].Scope != ScopeIP || got[0].Failures != 3 || !got[0].Until.Equal(clock.t.Add(10*time.Minute)) {
		t.Fatalf("third failure within the window: got %+v, want an ip lockout of 10m", got)
	}
	if s := r.LockedOut(ip, UserKey("carol")); s != ScopeIP {
		t.Errorf("locked-out address, any user: scope %q, want %q", s, ScopeIP)
	}
	if s := r.LockedOut(mustAddr(t, "192.0.2.2"), UserKey("carol")); s != "" {
		t.Errorf("another address is locked out: %q", s)
	}
	// Failures while locked out do not extend the lockout.
	r.Fail(ip, bob, p)
	clock.advance(10*time.Minute + time.Second)
	if s := r.LockedOut(ip, UserKey("carol")); s != "" {
		t.Errorf("lockout still in force after it ended: %q", s)
	}

	// The user name: 5 failures from anywhere.
	for i := range 5 {
		got = r.Fail(mustAddr(t, "198.51.100."+strconv.Itoa(i+1)), bob, p)
	}
	if len(got) != 1 || got[0].Scope != ScopeUser {
		t.Fatalf("fifth failure for bob: got %+v, want a user lockout", got)
	}
	if s := r.LockedOut(mustAddr(t, "203.0.113.9"), bob); s != ScopeUser {
		t.Errorf("bob from a fresh address: scope %q, want %q", s, ScopeUser)
	}

	// A successful login forgets the user name's failures, not the
	// address's.
	r.Fail(ip, alice, p)
	r.Fail(ip, alice, p)
	r.Succeed(alice)
	if got := r.Fail(ip, alice, p); len(got) != 1 || got[0].Scope != ScopeIP {
		t.Errorf("after a success, the address's third failure: got %+v, want an ip lockout only", got)
	}
}

func TestFailureRegistryBounded(t *testing.T) {
	clock := newClock()
	const capacity = 64
	r := NewFailures(capacity)
	r.now = clock.now
	p := LockoutPolicy{IPLimit: 2, UserLimit: 2, Window: time.Minute, Lockout: time.Minute}
	for i := range 10 * capacity {
		ip := mustAddr(t, "10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256))
		r.Fail(ip, UserKey("user"+strconv.Itoa(i)), p)
		if ips, users := r.Size(); ips > capacity || users > capacity {
			t.Fatalf("after %d failures: %d addresses, %d users tracked; capacity %d", i+1, ips, users, capacity)
		}
	}
	// Once everything has expired, new failures sweep old records away.
	clock.advance(2 * time.Minute)
	for i := range 8 {
		r.Fail(mustAddr(t, "172.16.0."+strconv.Itoa(i)), UserKey("late"), p)
	}
	if ips, _ := r.Size(); ips != 8 {
		t.Errorf("%d addresses tracked after the old ones expired and 8 new ones failed, want 8", ips)
	}
	// The most recent offender is still known.
	r.Fail(mustAddr(t, "172.16.0.7"), UserKey("late"), p)
	if s := r.LockedOut(mustAddr(t, "172.16.0.7"), UserKey("nobody")); s != ScopeIP {
		t.Errorf("the latest address is not locked out after 2 failures: %q", s)
	}
}
