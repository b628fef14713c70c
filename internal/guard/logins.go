package guard

import (
	"sync"
	"time"
)

// Logins remembers when each user last logged in, to enforce
// login_delay (RFC 2449 LOGIN-DELAY). It only holds users who logged in
// successfully within the last delay, so it is bounded by the number of
// real accounts; it is process-wide, so a reload does not reset it.
type Logins struct {
	mu      sync.Mutex
	now     func() time.Time
	last    map[uint64]time.Time
	sweepAt int // the size at which old records are swept next
}

func NewLogins() *Logins {
	return &Logins{now: time.Now, last: map[uint64]time.Time{}, sweepAt: loginSweepSize}
}

// ProcessLogins is the process-wide login registry.
var ProcessLogins = NewLogins()

// loginSweepSize is the smallest size at which login records older than
// the delay are swept; after a sweep, the next one is due at twice the
// Size that is left, so sweeping costs O(1) per login on average.
const loginSweepSize = 1024

// Wait returns how long the user with key must still wait before logging
// in again, or 0.
func (r *Logins) Wait(key uint64, delay time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := r.last[key]
	if !ok {
		return 0
	}
	return max(0, last.Add(delay).Sub(r.now()))
}

// Record notes a successful login of the user with key.
func (r *Logins) Record(key uint64, delay time.Duration) {
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

// SetClock makes r read the time from now (tests use a settable clock).
func (r *Logins) SetClock(now func() time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = now
}
