package pop3

import (
	"strconv"
	"sync"
	"time"
)

// loginRegistry remembers when each user last logged in, to enforce
// login_delay (RFC 2449 LOGIN-DELAY). It only holds users who logged in
// successfully within the last delay, so it is bounded by the number of
// real accounts; it is process-wide, so a reload does not reset it.
type loginRegistry struct {
	mu      sync.Mutex
	now     func() time.Time
	last    map[uint64]time.Time
	sweepAt int // the size at which old records are swept next
}

func newLoginRegistry() *loginRegistry {
	return &loginRegistry{now: time.Now, last: map[uint64]time.Time{}, sweepAt: loginSweepSize}
}

// processLogins is the process-wide login registry.
var processLogins = newLoginRegistry()

// loginSweepSize is the smallest size at which login records older than
// the delay are swept; after a sweep, the next one is due at twice the
// size that is left, so sweeping costs O(1) per login on average.
const loginSweepSize = 1024

// wait returns how long the user with key must still wait before logging
// in again, or 0.
func (r *loginRegistry) wait(key uint64, delay time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := r.last[key]
	if !ok {
		return 0
	}
	return max(0, last.Add(delay).Sub(r.now()))
}

// record notes a successful login of the user with key.
func (r *loginRegistry) record(key uint64, delay time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if len(r.last) >= r.sweepAt {
		for k, t := range r.last {
			if now.Sub(t) >= delay {
				delete(r.last, k)
			}
		}
		r.sweepAt = max(loginSweepSize, 2*len(r.last))
	}
	r.last[key] = now
}

// loginRegistry returns the registry these limits record logins in.
func (l *Limits) loginRegistry() *loginRegistry {
	if l.logins != nil {
		return l.logins
	}
	return processLogins
}

// loginDelaySeconds is LOGIN-DELAY's argument: the delay in whole seconds,
// rounded up.
func (l *Limits) loginDelaySeconds() int {
	d := time.Duration(l.LoginDelay)
	return int((d + time.Second - 1) / time.Second)
}

// policyCapabilities are the CAPA lines of the configured policies
// (RFC 2449 LOGIN-DELAY and EXPIRE).
func (s *session) policyCapabilities() []string {
	var caps []string
	if s.h.Limits.LoginDelay > 0 {
		caps = append(caps, "LOGIN-DELAY "+strconv.Itoa(s.h.Limits.loginDelaySeconds()))
	}
	if v, _ := parseExpire(s.h.Limits.Expire); v != "" {
		caps = append(caps, "EXPIRE "+v)
	}
	return caps
}
