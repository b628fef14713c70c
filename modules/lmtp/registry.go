package lmtp

import (
	"context"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/sessions"
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
var liveSessions = sessions.New[*liveSession]()

// liveSession is one LMTP session as the registry holds it.
type liveSession struct {
	h *Handler
	c *conn
}

// Owner is the handler the session belongs to.
func (s *liveSession) Owner() any { return s.h }

// Shutdown ends the session between transactions (see conn.drain).
func (s *liveSession) Shutdown(reason string) { s.c.drain(reason) }

var registerExitOnce sync.Once

// registerExitDrain makes process exit (caddy stop, SIGTERM) stop every
// session at once, and wait for those delivering a message to finish it.
func registerExitDrain(logger *zap.Logger) {
	registerExitOnce.Do(func() {
		caddy.OnExit(func(context.Context) {
			liveSessions.ShutdownOf(nil, endShutdown)
			if !liveSessions.Drain(exitDrainTimeout) {
				logger.Warn("LMTP sessions still running at exit", zap.Int("sessions", liveSessions.Len()))
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
		if n := len(h.sessions.Of(h)); n > 0 {
			h.logger.Info("grace period over; stopping LMTP sessions of the old config", zap.Int("sessions", n))
		}
		h.sessions.ShutdownOf(h, endReload)
	})
	return nil
}

// Interface guards
var _ sessions.Session = (*liveSession)(nil)
