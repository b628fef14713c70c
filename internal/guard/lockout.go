package guard

import (
	"net/netip"
	"time"
)

// The defaults of the brute-force defences, shared by every handler that
// checks passwords (pop3's logins, lmtp's client_auth).
const (
	// DefaultFailureDelay is the pause before answering a failed login
	// (Dovecot's auth_failure_delay).
	DefaultFailureDelay = 2 * time.Second
	// DefaultIPFailureLimit is how many failures from one client address
	// within DefaultFailureWindow lock it out.
	DefaultIPFailureLimit = 10
	// DefaultUserFailureLimit is how many failures for one user name,
	// from any address, within DefaultFailureWindow lock that name out.
	DefaultUserFailureLimit = 30
	// DefaultFailureWindow is the window failures are counted in.
	DefaultFailureWindow = 5 * time.Minute
	// DefaultLockoutTime is how long a lockout lasts.
	DefaultLockoutTime = 15 * time.Minute
)

// DefaultPolicy is the lockout policy with the defaults above.
var DefaultPolicy = LockoutPolicy{
	IPLimit:   DefaultIPFailureLimit,
	UserLimit: DefaultUserFailureLimit,
	Window:    DefaultFailureWindow,
	Lockout:   DefaultLockoutTime,
}

// LockoutScope returns the lockout that applies to a login as the user
// with key user from ipKey, or "": a locked-out address, or a locked-out
// user name unless the address is known to have logged in as that user
// (so that an attacker elsewhere cannot lock the owner out).
func LockoutScope(f *Failures, k *Known, ipKey netip.Addr, user uint64) string {
	scope := f.LockedOut(ipKey, user)
	if scope == ScopeUser && k.Known(user, ipKey) {
		return ""
	}
	return scope
}

// LoggedIn records a successful login as user from ipKey: the user name's
// failures are forgotten (unless it is locked out) and the address
// becomes known for the user.
func LoggedIn(f *Failures, k *Known, ipKey netip.Addr, user uint64) {
	f.Succeed(user)
	k.Record(user, ipKey)
}
