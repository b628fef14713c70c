package pop3server

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
	"github.com/caddy-pop3/caddy-pop3/internal/sessions"
	"go.uber.org/zap"
)

// ServeConn serves one connection within the connection limits: over
// max_connections or max_connections_per_ip it answers -ERR [SYS/TEMP] and
// returns, before any other work.
func (srv *Server) ServeConn(ctx context.Context, conn net.Conn, secure, loopback bool) {
	ip := clientid.IP(conn.RemoteAddr())
	exempt := loopback || srv.cfg.Limits.Trusted.Contains(ip)
	key := clientid.Key(ip)
	reg := srv.conns
	if refusal := reg.Admit(key, exempt, srv.cfg.Limits.MaxConnections, srv.cfg.Limits.MaxConnectionsPerIP); refusal != "" {
		srv.refuse(conn, ip, refusal, secure)
		return
	}
	defer reg.Release(key, exempt)

	sess := newSession(srv, conn, secure, loopback)
	sess.id = sessions.NewID()
	Live.Add(sess.id, sess)
	defer Live.Remove(sess.id)
	sess.serve(ctx)
}

// refuse tells the client that its connection is refused. It is kept out
// of line so that its log fields and reply do not enlarge ServeConn's
// frame, which stays under every session's whole life (see login).
//
//go:noinline
func (srv *Server) refuse(conn net.Conn, ip netip.Addr, refusal string, secure bool) {
	srv.log.Info("connection refused", zap.String("remote_ip", ip.String()), zap.String("reason", refusal))
	if srv.cfg.ImplicitTLS != nil && !secure {
		return // a TLS client cannot read a clear refusal
	}
	_ = conn.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
	_, _ = conn.Write([]byte("-ERR " + codeSysTemp + refusal + "\r\n"))
}

// refusalWriteTimeout bounds writing a refusal or a farewell to a client
// that does not read.
const refusalWriteTimeout = 5 * time.Second
