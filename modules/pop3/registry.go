package pop3

import (
	"sync"
	"sync/atomic"
	"time"
)

// sessionRegistry is the process-wide set of live sessions, across every
// handler and every loaded config: reloads end old handlers' sessions
// through it, process exit drains it, and the admin API lists it.
type sessionRegistry struct {
	mu       sync.Mutex
	sessions map[uint64]*session
	lastID   atomic.Uint64
	// idle is signalled (closed and replaced) whenever the registry
	// becomes empty, for drain waits.
	idle chan struct{}
}

// liveSessions is the registry of this process.
var liveSessions = &sessionRegistry{sessions: map[uint64]*session{}, idle: make(chan struct{})}

// add registers s and gives it its ID.
func (r *sessionRegistry) add(s *session) {
	s.id = r.lastID.Add(1)
	r.mu.Lock()
	r.sessions[s.id] = s
	r.mu.Unlock()
}

// remove unregisters s.
func (r *sessionRegistry) remove(s *session) {
	r.mu.Lock()
	delete(r.sessions, s.id)
	if len(r.sessions) == 0 {
		close(r.idle)
		r.idle = make(chan struct{})
	}
	r.mu.Unlock()
}

// of returns the live sessions of handler h, or every live session when h
// is nil.
func (r *sessionRegistry) of(h *Handler) []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*session
	for _, s := range r.sessions {
		if h == nil || s.h == h {
			out = append(out, s)
		}
	}
	return out
}

// drain waits until no session is left or the timeout passes, and reports
// whether the registry is empty.
func (r *sessionRegistry) drain(timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		n, idle := len(r.sessions), r.idle
		r.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-idle:
		case <-deadline.C:
			return false
		}
	}
}
