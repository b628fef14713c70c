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
		s.authUnavailable(mechanism, err)
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
	drop, err := s.openMaildrop(ctx, user)
	s.srv.obs.Duration(OpLogin, time.Since(openStart))
	if err != nil {
		s.openFailed(user, err)
		return nil
	}
	s.loggedInTo(user, mechanism, drop)
	return nil
}

// The steps of login around the storage's Open are functions of their
// own, kept out of line: login's frame is under the authenticator's work
// (and was under the storage's, see openMaildrop); with their log fields
// and replies inlined it was 900 bytes instead of 200.

// openMaildrop opens the user's maildrop on a goroutine of its own, and
// waits for it. Opening is the deepest work of a session (a maildir's
// listing: its index, the lock, the moves from new/), deeper than the
// 8 KiB a goroutine's stack starts with; on the session's goroutine it
// grew that stack to 16 KiB, which the session then kept for its whole
// life, idle or not (Go halves a stack only when a quarter of it is
// used, and an idle session uses more). The goroutine ends with the open,
// its stack goes back to the runtime, and the session's stays at 8 KiB.
// Nothing else changes: the context is the same, and the session waits
// for the open however it ends.
func (s *Session) openMaildrop(ctx context.Context, user string) (storage.Maildrop, error) {
	type opened struct {
		drop storage.Maildrop
		err  error
	}
	done := make(chan opened, 1)
	go func() {
		drop, err := s.srv.cfg.Store.Open(ctx, user)
		done <- opened{drop, err}
	}()
	r := <-done
	return r.drop, r.err
}

// authUnavailable answers a login whose authenticator failed.
//
//go:noinline
func (s *Session) authUnavailable(mechanism string, err error) {
	s.log.Error("authenticator failed", zap.String("mechanism", mechanism), zap.Error(err))
	s.err(codeSysTemp + "Authentication is temporarily unavailable")
}

// openFailed answers a login whose maildrop could not be opened.
//
//go:noinline
func (s *Session) openFailed(user string, err error) {
	switch {
	case errors.Is(err, storage.ErrInUse):
		s.err(codeInUse + "Maildrop is locked by another session")
	case errors.Is(err, storage.ErrInvalidUser):
		s.log.Error("user name cannot name a maildrop", zap.String("user", printableUser(user)))
		s.err(codeSysPerm + "This user has no valid maildrop")
	default:
		s.storageError("opening maildrop", err, zap.String("user", printableUser(user)))
		s.err(codeSysTemp + "Cannot open the maildrop, try again later")
	}
}

// loggedInTo enters the TRANSACTION state with the user's maildrop.
//
//go:noinline
func (s *Session) loggedInTo(user, mechanism string, drop storage.Maildrop) {
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
}

// printableUser makes a client-supplied user name safe for a log line.
func printableUser(user string) string { return auth.PrintableUser(user) }
