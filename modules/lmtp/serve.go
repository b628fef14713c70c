package lmtp

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/internal/sessions"
)

// connections counts the LMTP connections of the process, in all and by
// client address, across every lmtp handler and config. It is not the
// pop3 handlers' registry: an MTA's LMTP connections never count against
// the POP3 clients of the same address, nor the other way round.
var connections = guard.NewConns()

// Replies sent before the greeting, to clients that are not served.
const (
	replyUntrusted = "554 5.7.1 This client may not deliver mail here\r\n"
	replyBusy      = "421 4.7.0 " // + the refusal of guard.Conns
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
	untrusted := !id.Loopback && !h.trusted.Contains(id.IP)
	if untrusted && !h.ClientAuth {
		observeRefused(refusedUntrusted)
		log.Warn("connection refused", zap.String("reason", "client is neither on loopback nor in trusted_networks"))
		_, _ = raw.Write([]byte(replyUntrusted))
		return
	}
	key := clientid.Key(id.IP)
	if refusal := connections.Admit(key, false, h.MaxConnections, h.MaxConnectionsPerIP); refusal != "" {
		observeRefused(refusedLimit)
		log.Warn("connection refused", zap.String("reason", refusal))
		_, _ = raw.Write([]byte(replyBusy + refusal + "\r\n"))
		return
	}
	defer connections.Release(key, false)

	sid := sessions.NewID()
	c := newConn(raw, time.Duration(h.IdleTimeout), sid)
	defer c.Close()
	h.sessions.Add(sid, &liveSession{h: h, c: c})
	defer h.sessions.Remove(sid)
	if h.graceOver.Load() {
		// The grace period ended between Handle's check and Add: the
		// drain did not see this session.
		c.drain(endReload)
	}
	log = log.With(zap.Uint64("session", sid))
	c.secure.Store(h.implicit != nil)
	srv := h.newServer(func(sc *smtp.Conn) (smtp.Session, error) {
		c.helo.Store(sc.Hostname())
		if _, ok := sc.TLSConnectionState(); ok {
			c.secure.Store(true)
		}
		return &session{h: h, conn: c, srv: sc.Server(), log: log, auth: clientAuth{required: untrusted, client: id}}, nil
	}, log)

	begin := time.Now()
	sessionStarted()
	var served net.Conn = c
	if h.implicit != nil {
		// go-smtp runs the handshake of a *tls.Conn before its greeting,
		// within the idle timeout of c's reads.
		served = tls.Server(c, h.implicit())
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
	if h.startTLS != nil {
		srv.TLSConfig = h.startTLS() // STARTTLS is offered when set
	}
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
