package guard

import (
	"net/netip"
	"testing"
)

// TestLockoutScopeKnownAddress: a user name locked out by failures from
// elsewhere does not lock out an address that logged in as that user.
func TestLockoutScopeKnownAddress(t *testing.T) {
	f, k := NewFailures(100), NewKnown(100)
	owner, attacker := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.9")
	alice := UserKey("alice")
	LoggedIn(f, k, owner, alice)
	p := LockoutPolicy{UserLimit: 2, Window: DefaultFailureWindow, Lockout: DefaultLockoutTime}
	f.Fail(attacker, alice, p)
	f.Fail(attacker, alice, p)
	if s := LockoutScope(f, k, attacker, alice); s != ScopeUser {
		t.Errorf("attacker: scope %q, want %q", s, ScopeUser)
	}
	if s := LockoutScope(f, k, owner, alice); s != "" {
		t.Errorf("owner's known address: scope %q, want none", s)
	}
}
