// Package sessions is the live-session registry the mail protocol
// handlers share: every session of the process, across handlers and
// loaded configs, so that a reload ends an old config's sessions after its
// grace period, process exit drains them all, and the admin API lists
// them.
package sessions

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Session is what the registry needs of a session.
type Session interface {
	// Owner is the handler the session belongs to (compared with ==).
	Owner() any
	// Shutdown ends the session from another goroutine, with reason told
	// to the client when the protocol can.
	Shutdown(reason string)
}

// Registry is a set of live sessions, each with an ID unique in the
// process. The zero value is not ready: use New.
type Registry[S Session] struct {
	mu       sync.Mutex
	sessions map[uint64]S
	// idle is signalled (closed and replaced) whenever the registry
	// becomes empty, for drain waits.
	idle chan struct{}
}

// lastID numbers the sessions of every registry, so that an ID names one
// session in the process whatever protocol it speaks.
var lastID atomic.Uint64

// New returns an empty registry.
func New[S Session]() *Registry[S] {
	return &Registry[S]{sessions: map[uint64]S{}, idle: make(chan struct{})}
}

// NewID returns a session ID unique in the process. A session takes its
// ID before it is added, so that nothing reads it while it is set.
func NewID() uint64 { return lastID.Add(1) }

// Add registers s under id (from NewID).
func (r *Registry[S]) Add(id uint64, s S) {
	r.mu.Lock()
	r.sessions[id] = s
	r.mu.Unlock()
}

// Remove unregisters the session with the ID.
func (r *Registry[S]) Remove(id uint64) {
	r.mu.Lock()
	delete(r.sessions, id)
	if len(r.sessions) == 0 {
		close(r.idle)
		r.idle = make(chan struct{})
	}
	r.mu.Unlock()
}

// Get returns the live session with the ID.
func (r *Registry[S]) Get(id uint64) (S, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[id]
	return s, ok
}

// Of returns the live sessions of owner, or every live session when owner
// is nil, in the order of their IDs.
func (r *Registry[S]) Of(owner any) []S {
	r.mu.Lock()
	ids := make([]uint64, 0, len(r.sessions))
	for id, s := range r.sessions {
		if owner == nil || s.Owner() == owner {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]S, len(ids))
	for i, id := range ids {
		out[i] = r.sessions[id]
	}
	r.mu.Unlock()
	return out
}

// Len returns the number of live sessions.
func (r *Registry[S]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// ShutdownOf ends every live session of owner (nil: all) with reason.
func (r *Registry[S]) ShutdownOf(owner any, reason string) {
	for _, s := range r.Of(owner) {
		s.Shutdown(reason)
	}
}

// Drain waits until no session is left or the timeout passes, and reports
// whether the registry is empty.
func (r *Registry[S]) Drain(timeout time.Duration) bool {
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
