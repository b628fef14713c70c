package lmtp

import (
	"context"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// Reasons a session is ended from outside, in its log line and metrics.
const (
	endReload   = "reload"
	endShutdown = "shutdown"
)

// exitDrainTimeout bounds how long process exit waits for sessions that
// are delivering a message to finish it and send its replies.
const exitDrainTimeout = 10 * time.Second

// liveSessions are the LMTP sessions of the process. It outlives configs:
// sessions of a replaced config go on during its grace period.
var liveSessions = &registry{sessions: map[uint64]liveSession{}}

// registry is a set of live sessions.
type registry struct {
	mu       sync.Mutex
	next     uint64
	sessions map[uint64]liveSession
	empty    *sync.Cond
}

// liveSession is one entry of the registry.
type liveSession struct {
	h *Handler
	c *conn
}

// add registers the session of handler h on c and returns its ID.
func (r *registry) add(h *Handler, c *conn) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	r.sessions[r.next] = liveSession{h: h, c: c}
	return r.next
}

// remove unregisters a session.
func (r *registry) remove(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sessions, id)
	if r.empty != nil && len(r.sessions) == 0 {
		r.empty.Broadcast()
	}
}

// drain tells every session of h (of every handler when h is nil) to stop.
// It returns how many were told.
func (r *registry) drain(h *Handler, reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.sessions {
		if h == nil || s.h == h {
			s.c.drain(reason)
			n++
		}
	}
	return n
}

// wait waits until no session is left, for at most d. It reports whether
// none is.
func (r *registry) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		r.mu.Lock()
		if r.empty == nil {
			r.empty = sync.NewCond(&r.mu)
		}
		for len(r.sessions) > 0 {
			r.empty.Wait()
		}
		r.mu.Unlock()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// count is how many sessions are live.
func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

var registerExitOnce sync.Once

// registerExitDrain makes process exit (caddy stop, SIGTERM) stop every
// session at once, and wait for those delivering a message to finish it.
func registerExitDrain(logger *zap.Logger) {
	registerExitOnce.Do(func() {
		caddy.OnExit(func(context.Context) {
			liveSessions.drain(nil, endShutdown)
			if !liveSessions.wait(exitDrainTimeout) {
				logger.Warn("LMTP sessions still running at exit", zap.Int("sessions", liveSessions.count()))
			}
		})
	})
}

// Cleanup runs when the config of the handler is unloaded (a reload or a
// stop). Its sessions go on for the grace period, then are stopped between
// transactions. Cleanup itself does not wait.
func (h *Handler) Cleanup() error {
	if caddy.Exiting() {
		return nil // the exit drain stops every session
	}
	h.graceTimer = time.AfterFunc(time.Duration(h.GracePeriod), func() {
		h.graceOver.Store(true)
		if n := h.sessions.drain(h, endReload); n > 0 {
			h.logger.Info("grace period over; stopping LMTP sessions of the old config", zap.Int("sessions", n))
		}
	})
	return nil
}
