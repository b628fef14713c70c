package pop3

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
)

// Defaults of the limits. Each applies when its setting is zero (JSON) or
// absent (Caddyfile).
const (
	// DefaultMaxLineLength is the longest command line, CRLF included,
	// that RFC 2449 lets a client send.
	DefaultMaxLineLength = 255
	// DefaultMaxAuthLineLength bounds AUTH command lines and SASL
	// responses, which RFC 5034 exempts from the 255-octet limit.
	DefaultMaxAuthLineLength = 8192
	// DefaultAuthTimeout is how long a connection may stay unauthenticated.
	DefaultAuthTimeout = time.Minute
	// DefaultMaxConnections bounds the POP3 connections of the process
	// where the open-file limit cannot be read (Windows); elsewhere the
	// default is what the limit leaves room for (fdlimit.go).
	DefaultMaxConnections = 1000
	// DefaultMaxConnectionsPerIP bounds the connections of one client
	// address (an IPv6 client is its /64).
	DefaultMaxConnectionsPerIP = 20
	// DefaultMaxConnectionsPerUser bounds the sessions logged in as one
	// user.
	DefaultMaxConnectionsPerUser = 10
	// DefaultMaxErrors is how many bad commands end a session.
	DefaultMaxErrors = pop3server.DefaultMaxErrors
	// DefaultAuthFailureDelay is the pause before answering a failed
	// authentication (Dovecot's auth_failure_delay).
	DefaultAuthFailureDelay = guard.DefaultFailureDelay
	// DefaultAuthFailureLimit is how many failures from one client
	// address within the window lock it out.
	DefaultAuthFailureLimit = guard.DefaultIPFailureLimit
	// DefaultAuthUserFailureLimit is how many failures for one user name,
	// from any address, within the window lock that name out.
	DefaultAuthUserFailureLimit = guard.DefaultUserFailureLimit
	// DefaultAuthFailureWindow is the window failures are counted in.
	DefaultAuthFailureWindow = guard.DefaultFailureWindow
	// DefaultAuthLockout is how long a lockout lasts.
	DefaultAuthLockout = guard.DefaultLockoutTime
)

// Bounds of the settings, checked when the config loads.
const (
	maxLineLengthCeiling = 64 * 1024
	minAuthTimeout       = time.Second
	maxAuthFailureDelay  = 30 * time.Second
)

// expireNever is the value of expire that advertises EXPIRE NEVER.
const expireNever = "never"

// Limits are the handler's defences against hostile or broken clients.
// Each has a safe default; for the counts, a negative value means no
// limit (`off` in the Caddyfile). Connection counts and authentication
// failures are kept process-wide: they are shared by every POP3 handler
// of the process and survive config reloads.
type Limits struct {
	// MaxLineLength is the longest command line accepted, in octets
	// including CRLF. A longer line is answered with -ERR and discarded
	// without being buffered. At least 255 (RFC 2449). Default: 255.
	MaxLineLength int `json:"max_line_length,omitempty"`

	// MaxAuthLineLength is the longest AUTH command line or SASL response
	// line (RFC 5034 allows these to exceed 255 octets). Default: 8192.
	MaxAuthLineLength int `json:"max_auth_line_length,omitempty"`

	// AuthTimeout is how long a connection may take to authenticate,
	// counted from its start, whatever it sends meanwhile. Negative: only
	// idle_timeout applies. Default: 1m.
	AuthTimeout caddy.Duration `json:"auth_timeout,omitempty"`

	// MaxConnections bounds the POP3 connections of the whole process.
	// Over it, a new connection gets -ERR [SYS/TEMP] and is closed.
	// Default: what the open-file limit (RLIMIT_NOFILE) leaves room for:
	// the limit minus 10% (at least 256 descriptors) for Caddy, halved
	// for the message file a session may have open; 1000 where there is
	// no such limit (Windows). A value above that is refused at load
	// time.
	MaxConnections int `json:"max_connections,omitempty"`

	// MaxConnectionsPerIP bounds the connections of one client address
	// (an IPv6 client counts as its /64). Loopback clients and
	// trusted_networks are exempt. Default: 20.
	MaxConnectionsPerIP int `json:"max_connections_per_ip,omitempty"`

	// MaxConnectionsPerUser bounds the sessions logged in as one user
	// name. The slot is claimed only once the password is right, so
	// failed logins (from anyone) never take it; over it, the login gets
	// -ERR [IN-USE]. Default: 10.
	MaxConnectionsPerUser int `json:"max_connections_per_user,omitempty"`

	// MaxErrors is how many bad commands (unknown, malformed, over-long,
	// failed logins) end a session. Default: 20.
	MaxErrors int `json:"max_errors,omitempty"`

	// AuthFailureDelay is the pause before answering a failed login.
	// Negative: no pause. Default: 2s.
	AuthFailureDelay caddy.Duration `json:"auth_failure_delay,omitempty"`

	// AuthFailureLimit is how many failed logins from one client address
	// within AuthFailureWindow lock that address out for AuthLockout.
	// Default: 10.
	AuthFailureLimit int `json:"auth_failure_limit,omitempty"`

	// AuthUserFailureLimit is how many failed logins for one user name,
	// from any address, within AuthFailureWindow lock that name out for
	// AuthLockout. The lockout does not apply to addresses that logged in
	// successfully as that user within the last 30 days (known
	// addresses), so it cannot lock the owner out. Default: 30.
	AuthUserFailureLimit int `json:"auth_user_failure_limit,omitempty"`

	// AuthFailureWindow is the period failed logins are counted over.
	// Default: 5m.
	AuthFailureWindow caddy.Duration `json:"auth_failure_window,omitempty"`

	// AuthLockout is how long a locked-out address or user name is
	// refused. Default: 15m.
	AuthLockout caddy.Duration `json:"auth_lockout,omitempty"`

	// TrustedNetworks are client networks (CIDR, or single addresses)
	// exempt from max_connections_per_ip and from lockouts, like
	// loopback clients.
	TrustedNetworks []string `json:"trusted_networks,omitempty"`

	// LoginDelay is advertised as LOGIN-DELAY in CAPA (RFC 2449) and
	// enforced: a user who logged in less than this ago is refused with
	// -ERR [LOGIN-DELAY]. Default: none.
	LoginDelay caddy.Duration `json:"login_delay,omitempty"`

	// Expire is advertised as EXPIRE in CAPA (RFC 2449): "never", or the
	// number of days (at least 1) after which retrieved messages may be
	// deleted by site policy. The server itself deletes nothing on its
	// own. Default: not advertised.
	Expire string `json:"expire,omitempty"`

	trusted clientid.Networks
	// The registries; nil means the process-wide ones (tests use their
	// own).
	conns    *guard.Conns
	failures *guard.Failures
	logins   *guard.Logins
	known    *guard.Known
	// openFiles returns the open-file limit; nil means the process's
	// (tests use their own).
	openFiles func() (uint64, bool)
	// pause is how the failure delay waits; nil means pause (tests
	// record the delays instead of sleeping).
	pause func(ctx context.Context, d time.Duration) bool
}

// provision parses the trusted networks.
func (l *Limits) provision() error {
	trusted, err := clientid.ParseNetworks(l.TrustedNetworks)
	if err != nil {
		return fmt.Errorf("trusted_networks: %v", err)
	}
	l.trusted = trusted
	return nil
}

// validate checks the limits; errors name the setting.
func (l *Limits) validate() error {
	if l.MaxLineLength != 0 && (l.MaxLineLength < DefaultMaxLineLength || l.MaxLineLength > maxLineLengthCeiling) {
		return fmt.Errorf("max_line_length: %d is outside %d..%d (RFC 2449 lets clients send 255 octets)", l.MaxLineLength, DefaultMaxLineLength, maxLineLengthCeiling)
	}
	if l.MaxAuthLineLength != 0 && (l.MaxAuthLineLength < l.maxLineLength() || l.MaxAuthLineLength > maxLineLengthCeiling) {
		return fmt.Errorf("max_auth_line_length: %d is outside %d..%d (it cannot be below max_line_length)", l.MaxAuthLineLength, l.maxLineLength(), maxLineLengthCeiling)
	}
	if d := time.Duration(l.AuthTimeout); d > 0 && d < minAuthTimeout {
		return fmt.Errorf("auth_timeout: %s is shorter than %s", d, minAuthTimeout)
	}
	if l.MaxErrors < 0 {
		return fmt.Errorf("max_errors: %d is not a positive number", l.MaxErrors)
	}
	if d := time.Duration(l.AuthFailureDelay); d > maxAuthFailureDelay {
		return fmt.Errorf("auth_failure_delay: %s is longer than %s", d, maxAuthFailureDelay)
	}
	if l.AuthFailureWindow < 0 {
		return fmt.Errorf("auth_failure_window: %s is negative", time.Duration(l.AuthFailureWindow))
	}
	if l.AuthLockout < 0 {
		return fmt.Errorf("auth_lockout: %s is negative", time.Duration(l.AuthLockout))
	}
	if l.LoginDelay < 0 {
		return fmt.Errorf("login_delay: %s is negative", time.Duration(l.LoginDelay))
	}
	if _, err := parseExpire(l.Expire); err != nil {
		return fmt.Errorf("expire: %v", err)
	}
	for _, n := range l.TrustedNetworks {
		if _, err := clientid.ParseNetwork(n); err != nil {
			return fmt.Errorf("trusted_networks: %v", err)
		}
	}
	return l.validateFileLimit()
}

// parseExpire checks an expire setting and returns the EXPIRE capability's
// argument ("" when not advertised).
func parseExpire(v string) (string, error) {
	switch {
	case v == "":
		return "", nil
	case strings.EqualFold(v, expireNever):
		return "NEVER", nil
	}
	days, err := strconv.Atoi(v)
	if err != nil || days < 1 {
		return "", fmt.Errorf("%q is neither %q nor a number of days of at least 1 (EXPIRE 0 would promise to delete retrieved mail, which this server does not do)", v, expireNever)
	}
	return strconv.Itoa(days), nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T ~int | ~int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func (l *Limits) maxLineLength() int {
	return orDefault(l.MaxLineLength, DefaultMaxLineLength)
}

func (l *Limits) maxAuthLineLength() int {
	return max(orDefault(l.MaxAuthLineLength, DefaultMaxAuthLineLength), l.maxLineLength())
}

// authTimeout is 0 when there is no authentication deadline.
func (l *Limits) authTimeout() time.Duration {
	return max(0, time.Duration(orDefault(l.AuthTimeout, caddy.Duration(DefaultAuthTimeout))))
}

// The connection limits are 0 when there is no limit.
func (l *Limits) maxConnections() int {
	if l.MaxConnections == 0 {
		return l.defaultMaxConnections()
	}
	return max(0, l.MaxConnections)
}

func (l *Limits) maxConnectionsPerIP() int {
	return max(0, orDefault(l.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP))
}

func (l *Limits) maxConnectionsPerUser() int {
	return max(0, orDefault(l.MaxConnectionsPerUser, DefaultMaxConnectionsPerUser))
}

func (l *Limits) maxErrors() int {
	return max(1, orDefault(l.MaxErrors, DefaultMaxErrors))
}

func (l *Limits) authFailureDelay() time.Duration {
	return max(0, time.Duration(orDefault(l.AuthFailureDelay, caddy.Duration(DefaultAuthFailureDelay))))
}

// lockoutPolicy is the effective brute-force policy; a zero limit means
// that kind of lockout is off.
func (l *Limits) lockoutPolicy() guard.LockoutPolicy {
	return guard.LockoutPolicy{
		IPLimit:   max(0, orDefault(l.AuthFailureLimit, DefaultAuthFailureLimit)),
		UserLimit: max(0, orDefault(l.AuthUserFailureLimit, DefaultAuthUserFailureLimit)),
		Window:    time.Duration(orDefault(l.AuthFailureWindow, caddy.Duration(DefaultAuthFailureWindow))),
		Lockout:   time.Duration(orDefault(l.AuthLockout, caddy.Duration(DefaultAuthLockout))),
	}
}

// trustedAddr reports whether ip is in one of the trusted networks.
func (l *Limits) trustedAddr(ip netip.Addr) bool {
	return l.trusted.Contains(ip)
}

// engine resolves the limits into the protocol engine's, defaults applied.
func (l *Limits) engine() pop3server.Limits {
	expire, _ := parseExpire(l.Expire) // checked by validate
	el := pop3server.Limits{
		MaxLineLength:         l.maxLineLength(),
		MaxAuthLineLength:     l.maxAuthLineLength(),
		AuthTimeout:           l.authTimeout(),
		MaxConnections:        l.maxConnections(),
		MaxConnectionsPerIP:   l.maxConnectionsPerIP(),
		MaxConnectionsPerUser: l.maxConnectionsPerUser(),
		MaxErrors:             l.maxErrors(),
		AuthFailureDelay:      l.authFailureDelay(),
		Lockout:               l.lockoutPolicy(),
		Trusted:               l.trusted,
		LoginDelay:            max(0, time.Duration(l.LoginDelay)),
		Expire:                expire,
		Conns:                 l.conns,
		Failures:              l.failures,
		Known:                 l.known,
		Logins:                l.logins,
		Pause:                 l.pause,
	}
	if el.Trusted == nil && len(l.TrustedNetworks) > 0 {
		el.Trusted, _ = clientid.ParseNetworks(l.TrustedNetworks) // checked by validate
	}
	return el
}
