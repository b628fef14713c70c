package pop3

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
)

// DefaultGracePeriod is how long the sessions of a config that was replaced
// (by a reload) or stopped may go on before they are closed.
const DefaultGracePeriod = 5 * time.Minute

// exitDrainTimeout bounds how long process exit waits for sessions to
// finish what they are doing (a commit in progress) after they are told to
// stop.
const exitDrainTimeout = 10 * time.Second

var registerExitOnce sync.Once

// tcpMigrateReqPath is the Linux sysctl that hands connections queued on a
// closing SO_REUSEPORT listener to another listener of the same port.
const tcpMigrateReqPath = "/proc/sys/net/ipv4/tcp_migrate_req"

var checkMigrateOnce sync.Once

// warnIfReloadsDropConnections logs, once per process, when the kernel
// would reset connections that arrive during a reload. Caddy binds the new
// config's listener next to the old one with SO_REUSEPORT and then closes
// the old one; without net.ipv4.tcp_migrate_req=1 (Linux 5.14+), the
// connections waiting in the old listener's accept queue at that moment are
// reset instead of being handed to the new listener.
func warnIfReloadsDropConnections(logger *zap.Logger) {
	checkMigrateOnce.Do(func() {
		b, err := os.ReadFile(tcpMigrateReqPath)
		if err != nil || strings.TrimSpace(string(b)) != "0" {
			return
		}
		logger.Warn("connections that arrive during a config reload may be reset; set the sysctl net.ipv4.tcp_migrate_req=1 so the kernel hands them to the new listener",
			zap.String("sysctl", tcpMigrateReqPath))
	})
}

// registerExitDrain makes process exit (caddy stop, SIGTERM) end every
// session at once, deleting nothing for those that did not QUIT, and wait
// for sessions that are applying a QUIT's deletions to finish them.
func registerExitDrain(logger *zap.Logger) {
	registerExitOnce.Do(func() {
		caddy.OnExit(func(context.Context) {
			pop3server.Live.ShutdownOf(nil, pop3server.ReasonShutdown)
			if !pop3server.Live.Drain(exitDrainTimeout) {
				logger.Warn("sessions still running at exit", zap.Int("sessions", pop3server.Live.Len()))
			}
		})
	})
}

// Cleanup runs when the config this handler belongs to is unloaded (a
// reload, or a stop). Sessions that began under it go on under it for the
// grace period, then are closed with -ERR [SYS/TEMP] and nothing deleted.
// Cleanup itself does not wait, so a reload is never held up by sessions.
func (h *Handler) Cleanup() error {
	h.server().SetDraining()
	if caddy.Exiting() {
		return nil // the exit drain ends every session
	}
	grace := time.Duration(h.GracePeriod)
	if n := len(pop3server.Live.Of(h)); n > 0 {
		h.logger.Info("config unloaded; sessions may finish within the grace period",
			zap.Int("sessions", n), zap.Duration("grace_period", grace))
	}
	h.graceTimer = time.AfterFunc(grace, func() {
		h.graceOver.Store(true)
		pop3server.Live.ShutdownOf(h, pop3server.ReasonReload)
	})
	return nil
}
