// Package pop3 is the caddy-l4 connection handler layer4.handlers.pop3: it
// serves POP3 (RFC 1939, RFC 2449) sessions from a storage backend
// (pop3.storage.*), authenticating users against an authenticator
// (pop3.auth.*).
package pop3

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/mholt/caddy-l4/layer4"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/caddystore"
	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
	"github.com/caddy-pop3/caddy-pop3/internal/hostname"
	"github.com/caddy-pop3/caddy-pop3/internal/netconn"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/modules/auth"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func init() {
	caddy.RegisterModule(&Handler{})
}

// DefaultIdleTimeout is how long a session may stay silent before it is
// closed, when idle_timeout is not set (RFC 1939 asks for at least 10
// minutes).
const DefaultIdleTimeout = 10 * time.Minute

// MinIdleTimeout is the shortest idle_timeout RFC 1939 allows.
const MinIdleTimeout = 10 * time.Minute

// Handler is the POP3 connection handler. It is terminal: it serves the
// whole session and never passes the connection on.
type Handler struct {
	// Hostname is the server's name in the greeting (and in its APOP
	// timestamp) and, with StartTLS, the name Caddy manages a certificate
	// for. Default: the machine's host name.
	Hostname string `json:"hostname,omitempty"`

	// StorageRaw is the storage backend, a pop3.storage module. Default:
	// maildir under Caddy's data directory.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=pop3.storage inline_key=module"`

	// AuthRaw is the authenticator, a pop3.auth module. Required.
	AuthRaw json.RawMessage `json:"auth,omitempty" caddy:"namespace=pop3.auth inline_key=module"`

	// AllowInsecureAuth allows plaintext credentials (USER/PASS, AUTH
	// PLAIN, AUTH LOGIN) on connections that are neither TLS nor from a
	// loopback address. Default: false.
	AllowInsecureAuth bool `json:"allow_insecure_auth,omitempty"`

	// StartTLS turns on the STLS command (RFC 2595), with certificates
	// from Caddy's TLS app; the handler makes the TLS app manage a
	// certificate for Hostname. Default: off.
	StartTLS *StartTLS `json:"starttls,omitempty"`

	// ProxyProtocol serves clients behind load balancers that send a
	// PROXY protocol header: only the trusted proxies may connect, and
	// the header's address is the client's. Default: off (clients
	// connect directly).
	ProxyProtocol *ProxyProtocol `json:"proxy_protocol,omitempty"`

	// ImplicitTLS makes this listener POP3S: each connection begins with a
	// TLS handshake, run inside the session (counted by the connection
	// limits, bounded by auth_timeout), with certificates from Caddy's TLS
	// app managed for Hostname. Use it instead of caddy-l4's tls handler
	// in front of pop3. Not together with StartTLS. Default: off.
	ImplicitTLS *ImplicitTLS `json:"implicit_tls,omitempty"`

	// APOP turns on the APOP command (RFC 1939 section 7). The
	// authenticator must be able to look up plain-text secrets
	// (auth.SecretLookup). Default: off.
	APOP bool `json:"apop,omitempty"`

	// IdleTimeout closes a session after this long without a command,
	// deleting nothing. At least 10 minutes (RFC 1939). Default: 10m.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`

	// GracePeriod is how long sessions that began under this config may go
	// on after the config is replaced by a reload or stopped; then they are
	// closed with -ERR [SYS/TEMP] and nothing deleted. Default: 5m.
	GracePeriod caddy.Duration `json:"grace_period,omitempty"`

	// Limits against hostile clients: line lengths, timeouts, connection
	// counts, bad commands and brute force (limits.go). Its fields are
	// keys of the handler's own JSON object.
	Limits

	store   storage.Store
	auth    auth.Authenticator
	secrets auth.SecretLookup // set when APOP is on
	logger  *zap.Logger

	// tlsConfig makes the TLS config of one STLS handshake; nil when
	// STLS is off.
	tlsConfig func() *tls.Config
	// implicitTLS makes the TLS config of one implicit-TLS handshake; nil
	// when implicit_tls is off.
	implicitTLS func() *tls.Config

	warnedTLSInFront atomic.Bool // warnTLSInFront has logged
	graceOver        atomic.Bool // the grace period after unloading has passed
	graceTimer       *time.Timer

	// srv is the protocol engine, built from the fields above by server
	// (at the end of Provision; lazily in tests that set fields directly).
	srv     *pop3server.Server
	srvOnce sync.Once
}

// server returns the handler's protocol engine, building it on first use.
func (h *Handler) server() *pop3server.Server {
	h.srvOnce.Do(func() {
		h.srv = pop3server.New(pop3server.Config{
			Hostname:          h.Hostname,
			Store:             h.store,
			StoreName:         storageBackend(h.store),
			Auth:              h.auth,
			Secrets:           h.secrets,
			AllowInsecureAuth: h.AllowInsecureAuth,
			StartTLS:          h.tlsConfig,
			ImplicitTLS:       h.implicitTLS,
			IdleTimeout:       time.Duration(h.IdleTimeout),
			Limits:            h.Limits.engine(),
			Logger:            h.logger,
			Observer:          metricsObserver{},
			Owner:             h,
		})
	})
	return h.srv
}

// CaddyModule returns the Caddy module information.
func (*Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "layer4.handlers.pop3",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads the storage backend and the authenticator.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("metrics: %v", err)
	}

	if h.Hostname == "" {
		h.Hostname = hostname.Default()
	}
	if h.IdleTimeout == 0 {
		h.IdleTimeout = caddy.Duration(DefaultIdleTimeout)
	}
	if h.GracePeriod == 0 {
		h.GracePeriod = caddy.Duration(DefaultGracePeriod)
	}
	registerExitDrain(h.logger)
	warnIfReloadsDropConnections(h.logger)
	if err := h.Limits.provision(); err != nil {
		return err
	}

	if h.AuthRaw == nil {
		return fmt.Errorf("auth: no authenticator configured; a mail server needs accounts (for example `auth accounts bcrypt { <user> <hash> }` or `auth passwd_file <path>`)")
	}
	authMod, err := ctx.LoadModule(h, "AuthRaw")
	if err != nil {
		return fmt.Errorf("auth: %v", err)
	}
	a, ok := authMod.(auth.Authenticator)
	if !ok {
		return fmt.Errorf("auth: module %T is not an authenticator", authMod)
	}
	h.auth = a
	if err := h.provisionAPOP(authMod); err != nil {
		return err
	}
	if h.ProxyProtocol != nil {
		if err := h.ProxyProtocol.provision(); err != nil {
			return err
		}
	}
	if h.StartTLS != nil && h.ImplicitTLS != nil {
		return errTLSModes
	}
	if h.StartTLS != nil {
		h.tlsConfig, err = h.StartTLS.provision(ctx, h.Hostname, h.logger)
		if err != nil {
			return err
		}
	}
	if h.ImplicitTLS != nil {
		h.implicitTLS, err = h.ImplicitTLS.provision(ctx, h.Hostname, h.logger)
		if err != nil {
			return err
		}
	}

	if h.StorageRaw == nil {
		h.StorageRaw = caddystore.DefaultStorage()
	}
	s, err := caddystore.Load[storage.Store](ctx, h.StorageRaw, "is not a storage backend")
	if err != nil {
		return err
	}
	h.store = s
	h.server()
	return nil
}

// Validate checks the handler's settings.
func (h *Handler) Validate() error {
	if d := time.Duration(h.IdleTimeout); d < MinIdleTimeout {
		return fmt.Errorf("idle_timeout: %s is shorter than the 10 minutes RFC 1939 requires", d)
	}
	if h.GracePeriod < 0 {
		return fmt.Errorf("grace_period: must not be negative")
	}
	if h.ProxyProtocol != nil {
		if err := h.ProxyProtocol.validate(); err != nil {
			return err
		}
	}
	if h.StartTLS != nil && h.ImplicitTLS != nil {
		return errTLSModes
	}
	return h.Limits.validate()
}

// Handle serves one POP3 session on cx. It never calls next.
func (h *Handler) Handle(cx *layer4.Connection, _ layer4.Handler) error {
	if h.graceOver.Load() || caddy.Exiting() {
		// A connection accepted by a config that is gone: nothing has
		// been done yet, so tell the client to come back.
		_, _ = cx.Write([]byte("-ERR " + pop3server.CodeSysTemp + pop3server.ReasonShutdown + "\r\n"))
		return nil
	}
	secure := connectionIsTLS(cx)
	if secure {
		h.warnTLSInFront()
	}
	h.serveClient(cx.Context, cx, secure)
	return nil
}

// serveClient decides who the client of conn is (with proxy_protocol,
// from the PROXY header of a trusted peer; else the socket's peer) and
// serves it. A client known only through a PROXY header is never
// loopback, whatever address the header claims.
func (h *Handler) serveClient(ctx context.Context, conn net.Conn, secure bool) {
	id := clientid.Direct(conn)
	if h.ProxyProtocol != nil {
		var ok bool
		if conn, id, ok = h.ProxyProtocol.accept(conn, h.logger); !ok {
			return
		}
	}
	h.server().ServeConn(ctx, waitable(conn), secure, id.Loopback)
}

// waitable lets the engine wait for the client's next command without a
// read buffer (netconn.Waitable) when conn is caddy-l4's connection
// straight over a TCP socket: not under TLS or a PROXY header reader,
// whose buffers the socket's readiness says nothing about. What caddy-l4
// itself buffered (its prefetch, while matching) is read first.
func waitable(conn net.Conn) net.Conn {
	cx, ok := conn.(*layer4.Connection)
	if !ok {
		return conn
	}
	return netconn.NewWaitable(cx, cx.Conn, func() bool { return len(cx.MatchingBytes()) > 0 })
}

// errTLSModes refuses a handler with both STLS and implicit TLS: a
// listener is either POP3S or plain POP3 with STLS.
var errTLSModes = fmt.Errorf("implicit_tls and starttls: a listener is either POP3S (implicit_tls, port 995) or POP3 with STLS (starttls, port 110); use two listeners")

// Interface guards
var (
	_ caddy.Provisioner     = (*Handler)(nil)
	_ caddy.Validator       = (*Handler)(nil)
	_ caddy.CleanerUpper    = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ layer4.NextHandler    = (*Handler)(nil)
)
