package lmtp

import (
	"time"

	"go.uber.org/zap"
)

// How a session ended, when nothing ended it from outside.
const (
	endClosed  = "closed"  // QUIT, or the client closed the connection
	endTimeout = "timeout" // idle_timeout passed
)

// sessionStarted counts a new session.
func sessionStarted() {
	metrics.sessionsActive.Inc()
}

// sessionEnded counts the end of a session and logs the one line that sums
// it up.
func sessionEnded(log *zap.Logger, c *conn, d time.Duration) {
	helo, _ := c.helo.Load().(string)
	reason := c.drainReason()
	switch {
	case reason != "":
	case c.timedOut.Load():
		reason = endTimeout
	default:
		reason = endClosed
	}
	metrics.sessionsActive.Dec()
	metrics.sessions.WithLabelValues(reason).Inc()
	log.Info("session ended",
		zap.String("helo", helo),
		zap.Bool("tls", c.secure.Load()),
		zap.Duration("duration", d),
		zap.Int64("messages", c.messages.Load()),
		zap.Int64("recipients_delivered", c.delivered.Load()),
		zap.Int64("recipients_failed", c.failed.Load()),
		zap.Int64("bytes_received", c.bytesIn.Load()),
		zap.Int64("bytes_sent", c.bytesOut.Load()),
		zap.String("reason", reason))
}
