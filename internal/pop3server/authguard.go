package pop3server

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
	"github.com/caddy-pop3/caddy-pop3/internal/guard"
)

// sessionGuard is a session's part of the limits: who the client is for the
// limits, its authentication deadline and its claim on a user name.
type sessionGuard struct {
	ip           netip.Addr // the client's address; zero when it has none
	ipKey        netip.Addr // what the client is counted as (clientKey)
	exempt       bool       // loopback or trusted: no per-address limit, no lockout
	authDeadline time.Time  // zero: none
	slot         uint64     // the user name claimed (guard.UserKey)
	hasSlot      bool
	ended        chan struct{} // closed when the session is ended from outside
}

func newGuard(srv *Server, conn net.Conn, loopback bool) sessionGuard {
	ip := clientid.IP(conn.RemoteAddr())
	g := sessionGuard{
		ip:     ip,
		ipKey:  clientid.Key(ip),
		exempt: loopback || srv.cfg.Limits.Trusted.Contains(ip),
		ended:  make(chan struct{}),
	}
	if d := srv.cfg.Limits.AuthTimeout; d > 0 {
		g.authDeadline = time.Now().Add(d)
	}
	return g
}

// authFailedReply is the one answer to every failed login: wrong
// password, unknown user and locked out alike, so that a client learns
// nothing from it.
const authFailedReply = codeAuth + "Authentication failed"

// beginAuth runs before a password is checked: a login from a locked-out
// address, or for a locked-out user name from an address that is not
// known for it (see guard.Known), fails like a wrong password, without
// checking anything. When stop is true the client has been answered and
// err is what the command returns.
func (s *Session) beginAuth(ctx context.Context, user, mechanism string) (stop bool, err error) {
	if s.guard.exempt {
		return false, nil
	}
	key := guard.UserKey(user)
	if scope := guard.LockoutScope(s.srv.failures, s.srv.known, s.guard.ipKey, key); scope != "" {
		s.logAuthFailure(user, mechanism, zap.String("locked_out", scope))
		return true, s.failAuth(ctx)
	}
	return false, nil
}

// claimUserSlot runs once the password is known to be right: a login as a
// user with max_connections_per_user sessions already gets -ERR [IN-USE]
// and false is returned. Failed logins never hold a slot, so nobody who
// lacks the password can keep the owner out.
func (s *Session) claimUserSlot(user string) bool {
	key := guard.UserKey(user)
	if !s.srv.conns.ClaimUser(key, s.srv.cfg.Limits.MaxConnectionsPerUser) {
		s.log.Info("too many sessions for one user", zap.String("user", printableUser(user)))
		s.err(codeInUse + "Too many sessions for this user, try again later")
		return false
	}
	s.guard.slot, s.guard.hasSlot = key, true
	return true
}

// endAuth ends a login attempt: a session that did not log in gives up its
// claim on the user name.
func (s *Session) endAuth() {
	if s.state != stateTransaction {
		s.releaseUserSlot()
	}
}

// releaseUserSlot gives up the session's claim on a user name, if any.
func (s *Session) releaseUserSlot() {
	if s.guard.hasSlot {
		s.srv.conns.ReleaseUser(s.guard.slot)
		s.guard.hasSlot = false
	}
}

// authFailed answers a wrong password or an unknown user (the two are
// never told apart), after counting the failure and pausing.
func (s *Session) authFailed(ctx context.Context, user, mechanism string) error {
	s.logAuthFailure(user, mechanism)
	if !s.guard.exempt {
		for _, l := range s.srv.failures.Fail(s.guard.ipKey, guard.UserKey(user), s.srv.cfg.Limits.Lockout) {
			s.srv.obs.Lockout()
			s.log.Warn("authentication lockout",
				zap.String("scope", l.Scope),
				zap.String("user", printableUser(user)),
				zap.Int("failures", l.Failures),
				zap.Time("until", l.Until))
		}
	}
	return s.failAuth(ctx)
}

// logAuthFailure logs a failed login: a fixed message, then the
// session logger's own remote and remote_ip fields first, for fail2ban
// (see examples/fail2ban).
func (s *Session) logAuthFailure(user, mechanism string, extra ...zap.Field) {
	fields := append([]zap.Field{
		zap.String("mechanism", mechanism),
		zap.String("user", printableUser(user)),
	}, extra...)
	s.log.Warn("authentication failed", fields...)
}

// failAuth pauses for auth_failure_delay in the session's own goroutine,
// then answers the failure. If ctx ends or the session is ended from
// outside meanwhile, the session ends.
func (s *Session) failAuth(ctx context.Context) error {
	wait := func(ctx context.Context, d time.Duration) bool { return guard.Pause(ctx, d, s.guard.ended) }
	if s.srv.cfg.Limits.Pause != nil {
		wait = s.srv.cfg.Limits.Pause
	}
	if !wait(ctx, s.srv.cfg.Limits.AuthFailureDelay) {
		s.err(authFailedReply)
		return errCloseSession
	}
	return s.reject(authFailedReply)
}

// loginDelayed enforces login_delay once the password is known to be
// right: a user who logged in too recently is refused with
// -ERR [LOGIN-DELAY] (RFC 2449) and true is returned.
func (s *Session) loginDelayed(user string) bool {
	delay := s.srv.cfg.Limits.LoginDelay
	if delay <= 0 {
		return false
	}
	wait := s.srv.logins.Wait(guard.UserKey(user), delay)
	if wait <= 0 {
		return false
	}
	secs := int((wait + time.Second - 1) / time.Second)
	s.err(codeLoginDelay + "Logged in too recently, wait " + strconv.Itoa(secs) + " seconds")
	return true
}

// loggedIn records a successful login: the user name's failures are
// forgotten (unless it is locked out), the address becomes known for the
// user and, with login_delay, the time is noted.
func (s *Session) loggedIn(user string) {
	key := guard.UserKey(user)
	if !s.guard.exempt {
		guard.LoggedIn(s.srv.failures, s.srv.known, s.guard.ipKey, key)
	}
	if d := s.srv.cfg.Limits.LoginDelay; d > 0 {
		s.srv.logins.Record(key, d)
	}
}
