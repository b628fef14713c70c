package pop3

import (
	"context"
	"net"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"go.uber.org/zap"
)

// serveConn serves one connection within the connection limits: over
// max_connections or max_connections_per_ip it answers -ERR [SYS/TEMP] and
// returns, before any other work.
func (h *Handler) serveConn(ctx context.Context, conn net.Conn, secure, loopback bool) {
	ip := clientid.IP(conn.RemoteAddr())
	exempt := loopback || h.Limits.trustedAddr(ip)
	key := clientid.Key(ip)
	reg := h.Limits.connCounts()
	if refusal := reg.Admit(key, exempt, h.Limits.maxConnections(), h.Limits.maxConnectionsPerIP()); refusal != "" {
		h.logger.Info("connection refused", zap.String("remote_ip", ip.String()), zap.String("reason", refusal))
		if h.implicitTLS != nil && !secure {
			return // a TLS client cannot read a clear refusal
		}
		_ = conn.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
		_, _ = conn.Write([]byte("-ERR " + codeSysTemp + refusal + "\r\n"))
		return
	}
	defer reg.Release(key, exempt)

	sess := newSession(h, conn, secure, loopback)
	sess.id = liveSessions.Add(sess)
	defer liveSessions.Remove(sess.id)
	sess.serve(ctx)
}

// refusalWriteTimeout bounds writing a refusal or a farewell to a client
// that does not read.
const refusalWriteTimeout = 5 * time.Second

// guard.Conns returns the registry these limits count connections in.
func (l *Limits) connCounts() *guard.Conns {
	if l.conns != nil {
		return l.conns
	}
	return guard.ProcessConns
}
