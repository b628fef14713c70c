package pop3server

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// plaintextAllowed reports whether this connection may carry plaintext
// credentials: over TLS, from a loopback address, or when the config says
// allow_insecure_auth.
func (s *Session) plaintextAllowed() bool {
	return s.secure || s.loopback || s.srv.cfg.AllowInsecureAuth
}

// errPlaintextRefused is the answer to plaintext credentials on a clear,
// non-loopback connection.
const errPlaintextRefused = codeAuth + "Plaintext authentication is disabled on insecure connections; use TLS (POP3S on port 995 or STLS)"

func (s *Session) cmdUSER(_ context.Context, cmd command) error {
	if !s.plaintextAllowed() {
		return s.reject(errPlaintextRefused)
	}
	s.userArg = string(cmd.args()[0])
	s.ok("Send PASS")
	return nil
}

func (s *Session) cmdPASS(ctx context.Context, cmd command) error {
	if !s.plaintextAllowed() {
		return s.reject(errPlaintextRefused)
	}
	if s.userArg == "" {
		return s.reject("Send USER first")
	}
	user := s.userArg
	s.userArg = ""
	// The password is the whole rest of the line: it may contain spaces.
	return s.login(ctx, auth.PasswordLogin(s.srv.cfg.Auth, user, string(cmd.rest)), auth.MechanismUser)
}

// login checks the credentials of a mechanism and, when they are right,
// opens the user's maildrop and enters the TRANSACTION state. Unknown
// users and wrong credentials get the same answer.
func (s *Session) login(ctx context.Context, l auth.Login, mechanism string) error {
	user := l.User
	if stop, err := s.beginAuth(ctx, user, mechanism); stop {
		return err
	}
	ok, err := l.Check(ctx)
	s.srv.obs.Auth(mechanism, authResult(ok, err))
	if err != nil {
		s.log.Error("authenticator failed", zap.String("mechanism", mechanism), zap.Error(err))
		s.err(codeSysTemp + "Authentication is temporarily unavailable")
		return nil
	}
	if !ok {
		return s.authFailed(ctx, user, mechanism)
	}
	if s.loginDelayed(user) {
		return nil
	}
	if !s.claimUserSlot(user) {
		return nil
	}
	defer s.endAuth()

	openStart := time.Now()
	drop, err := s.srv.cfg.Store.Open(ctx, user)
	s.srv.obs.Duration(OpLogin, time.Since(openStart))
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrInUse):
		s.err(codeInUse + "Maildrop is locked by another session")
		return nil
	case errors.Is(err, storage.ErrInvalidUser):
		s.log.Error("user name cannot name a maildrop", zap.String("user", printableUser(user)))
		s.err(codeSysPerm + "This user has no valid maildrop")
		return nil
	default:
		s.storageError("opening maildrop", err, zap.String("user", printableUser(user)))
		s.err(codeSysTemp + "Cannot open the maildrop, try again later")
		return nil
	}

	s.loggedIn(user)
	s.user = user
	s.drop = drop
	s.msgs = drop.Messages()
	s.deleted = make([]bool, len(s.msgs))
	s.state = stateTransaction
	n, size := s.live()
	s.log.Debug("logged in", zap.String("user", user), zap.String("mechanism", mechanism), zap.Int("messages", n), zap.Bool("tls", s.secure))
	r := append(s.w.scratch(maxReplyLine), "+OK Logged in, "...)
	r = strconv.AppendInt(r, int64(n), 10)
	r = append(r, " messages ("...)
	r = strconv.AppendInt(r, size, 10)
	s.okLine(append(r, " octets)\r\n"...))
	return nil
}

// printableUser makes a client-supplied user name safe for a log line.
func printableUser(user string) string { return auth.PrintableUser(user) }
