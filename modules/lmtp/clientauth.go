package lmtp

import (
	"context"
	"errors"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// Client authentication (client_auth): what a client outside
// trusted_networks must do before MAIL.

// Replies of client authentication.
var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errAuthFailed   = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication failed"}
	errAuthTemp     = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Authentication is temporarily unavailable"}
	errAuthzid      = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "The authorization identity must be empty or the user name"}
)

// clientAuth is the authentication state of one session.
type clientAuth struct {
	required bool              // the client is not trusted: AUTH before MAIL
	user     string            // the authenticated user, "" before
	client   clientid.Identity // who the client is, for failure counts
}

// AuthMechanisms lists the SASL mechanisms offered (go-smtp offers them
// only over TLS); none for trusted clients, which need no AUTH.
func (s *session) AuthMechanisms() []string {
	if !s.auth.required || s.auth.user != "" {
		return nil
	}
	var names []string
	for _, m := range auth.BackedMechanisms(s.h.authn, auth.SASLMechanisms()) {
		names = append(names, m.Name)
	}
	return names
}

// Auth runs one SASL exchange; its credentials are checked against the
// auth module when the client has sent them.
func (s *session) Auth(name string) (sasl.Server, error) {
	m, ok := auth.LookupMechanism(name)
	if !ok || !m.SASL || !s.auth.required {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return authzidReply{m.NewServer(s.h.authn, func(l auth.Login) error {
		return s.checkLogin(l, m.Name)
	})}, nil
}

// authzidReply answers PLAIN's foreign authorization identity with a 535
// instead of go-smtp's generic 454.
type authzidReply struct{ sasl.Server }

// Next runs one step of the exchange.
func (a authzidReply) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := a.Server.Next(response)
	if errors.Is(err, auth.ErrAuthzid) {
		err = errAuthzid
	}
	return challenge, done, err
}

// checkLogin checks a login: a locked-out address or user fails like a
// wrong password, a failure is counted and paused, an authenticator that
// cannot decide is a temporary failure.
func (s *session) checkLogin(l auth.Login, mechanism string) error {
	ipKey, user := clientid.Key(s.auth.client.IP), guard.UserKey(l.User)
	log := s.log.With(zap.String("mechanism", mechanism), zap.String("user", auth.PrintableUser(l.User)))
	if scope := guard.LockoutScope(guard.ProcessFailures, guard.ProcessKnown, ipKey, user); scope != "" {
		log.Warn("authentication failed", zap.String("locked_out", scope))
		guard.Pause(context.Background(), guard.DefaultFailureDelay, nil)
		return errAuthFailed
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	ok, err := l.Check(ctx)
	cancel()
	switch {
	case err != nil:
		log.Error("authenticator failed", zap.Error(err))
		return errAuthTemp
	case !ok:
		log.Warn("authentication failed")
		for _, lo := range guard.ProcessFailures.Fail(ipKey, user, guard.DefaultPolicy) {
			log.Warn("authentication lockout", zap.String("scope", lo.Scope), zap.Int("failures", lo.Failures), zap.Time("until", lo.Until))
		}
		guard.Pause(context.Background(), guard.DefaultFailureDelay, nil)
		return errAuthFailed
	}
	guard.LoggedIn(guard.ProcessFailures, guard.ProcessKnown, ipKey, user)
	s.auth.user = l.User
	log.Info("authenticated")
	return nil
}

// mailAllowed refuses MAIL from a client that must authenticate and has
// not.
func (s *session) mailAllowed() error {
	if s.auth.required && s.auth.user == "" {
		return errAuthRequired
	}
	return nil
}

// Interface guard
var _ smtp.AuthSession = (*session)(nil)
