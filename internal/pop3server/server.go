// Package pop3server is the POP3 protocol engine (RFC 1939, RFC 2449,
// RFC 2595 STLS, RFC 5034 SASL): sessions, commands, line reading, replies,
// message transfer, login and CAPA. It knows nothing of Caddy: a Server is
// configured by a plain Config and reports through an Observer (metrics)
// and a zap logger; the layer4.handlers.pop3 module (modules/pop3) is the
// thin Caddy adapter that builds the Config from JSON or a Caddyfile and
// hands it connections.
package pop3server

import (
	"context"
	"crypto/tls"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/modules/auth"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Config is what a Server serves with. Zero values are the safe
// defaults noted on each field, except Store and Auth, which are
// required.
type Config struct {
	// Hostname is the server's name in the greeting and the APOP
	// timestamp.
	Hostname string
	// Store opens the users' maildrops.
	Store storage.Store
	// StoreName labels storage errors in metrics and logs (the backend's
	// module name); "" for "other".
	StoreName string
	// Auth checks credentials.
	Auth auth.Authenticator
	// Secrets, when set, turns on APOP: it looks up the plain-text
	// secrets APOP digests are checked against.
	Secrets auth.SecretLookup
	// AllowInsecureAuth allows plaintext credentials on connections that
	// are neither TLS nor from loopback.
	AllowInsecureAuth bool
	// StartTLS, when set, turns on STLS: it makes the TLS config of one
	// handshake.
	StartTLS func() *tls.Config
	// ImplicitTLS, when set, makes every connection begin with a TLS
	// handshake with the config it makes.
	ImplicitTLS func() *tls.Config
	// IdleTimeout ends a session silent for this long (and bounds every
	// write).
	IdleTimeout time.Duration
	// Limits are the defences against hostile clients.
	Limits Limits
	// Logger receives the session log lines; nil: none.
	Logger *zap.Logger
	// Observer receives the events metrics are made of; nil: none.
	Observer Observer
	// Owner is the handler the server belongs to; sessions report it
	// (sessions.Session), so that a handler can end its own sessions.
	Owner any
}

// Limits are a Server's defences against hostile or broken clients, as
// resolved by the adapter: 0 means no limit (or none) unless noted.
type Limits struct {
	// MaxLineLength is the longest command line, CRLF included (at least
	// 255; 0: 255).
	MaxLineLength int
	// MaxAuthLineLength bounds AUTH lines and SASL responses (0: 8192).
	MaxAuthLineLength int
	// AuthTimeout is how long a connection may take to log in.
	AuthTimeout time.Duration
	// MaxConnections bounds the connections of the process.
	MaxConnections int
	// MaxConnectionsPerIP bounds the connections of one client address.
	MaxConnectionsPerIP int
	// MaxConnectionsPerUser bounds the sessions logged in as one user.
	MaxConnectionsPerUser int
	// MaxErrors is how many bad commands end a session (0: 20).
	MaxErrors int
	// AuthFailureDelay is the pause before answering a failed login.
	AuthFailureDelay time.Duration
	// Lockout is the brute-force policy.
	Lockout guard.LockoutPolicy
	// Trusted are client networks exempt from per-address limits and
	// lockouts, like loopback clients.
	Trusted clientid.Networks
	// LoginDelay is enforced and advertised as LOGIN-DELAY.
	LoginDelay time.Duration
	// Expire is the EXPIRE capability's argument ("NEVER" or days); ""
	// does not advertise it.
	Expire string
	// The registries; nil means the process-wide ones (guard.Process*).
	Conns    *guard.Conns
	Failures *guard.Failures
	Known    *guard.Known
	Logins   *guard.Logins
	// Pause is how the failure delay waits; nil means guard.Pause (tests
	// record the delays instead).
	Pause func(ctx context.Context, d time.Duration) bool
}

// Defaults of the Limits fields whose zero value is not "none".
const (
	DefaultMaxLineLength     = 255
	DefaultMaxAuthLineLength = 8192
	DefaultMaxErrors         = 20
)

// Server serves POP3 sessions on connections it is given.
type Server struct {
	cfg      Config
	log      *zap.Logger
	obs      Observer
	mechs    []auth.Mechanism // the SASL mechanisms the authenticator backs
	conns    *guard.Conns
	failures *guard.Failures
	known    *guard.Known
	logins   *guard.Logins
	draining atomic.Bool
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	l := &cfg.Limits
	if l.MaxLineLength == 0 {
		l.MaxLineLength = DefaultMaxLineLength
	}
	if l.MaxAuthLineLength == 0 {
		l.MaxAuthLineLength = DefaultMaxAuthLineLength
	}
	l.MaxAuthLineLength = max(l.MaxAuthLineLength, l.MaxLineLength)
	if l.MaxErrors <= 0 {
		l.MaxErrors = DefaultMaxErrors
	}
	srv := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		obs:      cfg.Observer,
		mechs:    auth.BackedMechanisms(cfg.Auth, auth.SASLMechanisms()),
		conns:    orProcess(l.Conns, guard.ProcessConns),
		failures: orProcess(l.Failures, guard.ProcessFailures),
		known:    orProcess(l.Known, guard.ProcessKnown),
		logins:   orProcess(l.Logins, guard.ProcessLogins),
	}
	if srv.log == nil {
		srv.log = zap.NewNop()
	}
	if srv.obs == nil {
		srv.obs = NopObserver{}
	}
	return srv
}

// orProcess returns r, or the process-wide registry when r is nil.
func orProcess[T any](r, process *T) *T {
	if r != nil {
		return r
	}
	return process
}

// SetDraining marks the server's sessions as draining (the config they
// began under was replaced or stopped), as the admin API shows them.
func (srv *Server) SetDraining() { srv.draining.Store(true) }

// storeName is the storage label of metrics and logs.
func (srv *Server) storeName() string {
	if srv.cfg.StoreName == "" {
		return "other"
	}
	return srv.cfg.StoreName
}

// authResult is the Observer.Auth result of a credential check.
func authResult(ok bool, err error) string {
	switch {
	case err != nil:
		return AuthError
	case ok:
		return AuthSuccess
	default:
		return AuthFailure
	}
}
