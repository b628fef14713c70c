package lmtp

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
)

// Replies sent before the greeting, to clients that are not served.
const (
	replyUntrusted = "554 5.7.1 This client may not deliver mail here\r\n"
	replyBusy      = "421 4.7.0 Too many connections, try again later\r\n"
)

// serve decides who the client of raw is, applies the access rules and
// the connection limits, and runs one LMTP session on it. It returns when
// the session has ended and its connection is closed.
func (h *Handler) serve(raw net.Conn) {
	id := clientid.Direct(raw)
	if h.ProxyProtocol != nil {
		var ok bool
		if raw, id, ok = h.ProxyProtocol.accept(raw, h.logger); !ok {
			observeRefused(refusedProxy)
			return
		}
	}
	log := h.logger.With(zap.String("remote", id.Addr.String()), zap.String("remote_ip", id.IP.String()))
	if !id.Loopback && !h.trusted.Contains(id.IP) {
		observeRefused(refusedUntrusted)
		log.Warn("connection refused", zap.String("reason", "client is neither on loopback nor in trusted_networks"))
		_, _ = raw.Write([]byte(replyUntrusted))
		return
	}
	release, ok := connections.acquire(id.IP, h.MaxConnections, h.MaxConnectionsPerIP)
	if !ok {
		observeRefused(refusedLimit)
		log.Warn("connection refused", zap.String("reason", "max_connections or max_connections_per_ip reached"))
		_, _ = raw.Write([]byte(replyBusy))
		return
	}
	defer release()

	c := newConn(raw, time.Duration(h.IdleTimeout))
	defer c.Close()
	sid := h.sessions.add(h, c)
	defer h.sessions.remove(sid)
	log = log.With(zap.Uint64("session", sid))
	c.secure.Store(h.implicit != nil)
	srv := h.newServer(func(sc *smtp.Conn) (smtp.Session, error) {
		c.helo.Store(sc.Hostname())
		if _, ok := sc.TLSConnectionState(); ok {
			c.secure.Store(true)
		}
		return &session{h: h, conn: c, srv: sc.Server(), log: log}, nil
	}, log)

	begin := time.Now()
	sessionStarted()
	var served net.Conn = c
	if h.implicit != nil {
		// go-smtp runs the handshake of a *tls.Conn before its greeting,
		// within the idle timeout of c's reads.
		served = tls.Server(c, h.implicit)
	}
	_ = srv.Serve(&oneConnListener{c: c, served: served})
	// Serve returns once the connection is closed; Shutdown waits for
	// go-smtp's goroutine of the session to return.
	_ = srv.Shutdown(context.Background())
	sessionEnded(log, c, time.Since(begin))
}

// newServer makes the go-smtp server of one connection, in LMTP mode, with
// the handler's settings. Its Backend is newSession.
func (h *Handler) newServer(newSession smtp.BackendFunc, log *zap.Logger) *smtp.Server {
	srv := smtp.NewServer(newSession)
	srv.LMTP = true
	srv.Domain = h.Hostname
	srv.MaxMessageBytes = h.MaxMessageSize
	srv.MaxRecipients = h.MaxRecipients
	srv.MaxLineLength = h.MaxLineLength
	srv.EnableSMTPUTF8 = true
	srv.WriteTimeout = time.Duration(h.IdleTimeout)
	srv.ErrorLog = zapPrintf{log}
	srv.TLSConfig = h.startTLS // STARTTLS is offered when set
	return srv
}

// zapPrintf is go-smtp's error log, on the handler's logger.
type zapPrintf struct{ log *zap.Logger }

// Printf logs one line of go-smtp's.
func (z zapPrintf) Printf(format string, v ...any) { z.log.Sugar().Debugf(format, v...) }

// Println logs one line of go-smtp's.
func (z zapPrintf) Println(v ...any) { z.log.Sugar().Debug(v...) }

// Interface guards
var _ smtp.Logger = zapPrintf{}
