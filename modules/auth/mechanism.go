// Login mechanisms. This file is the table of login mechanisms of the mail protocol
// handlers: USER/PASS and APOP (POP3 commands of their own) and the SASL
// mechanisms PLAIN and LOGIN. Each entry says whether it carries a
// reusable password in the clear (so it is offered only where plaintext
// credentials are allowed), whether it needs TLS, which authenticators can
// back it, and how to run its exchange. CAPA, AUTH, the plaintext policy
// and the metrics read the table; adding a mechanism (SCRAM-SHA-256, say)
// is one file here plus the authenticator's credential lookup.

package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-sasl"
)

// Login is what a client sent to log in: who it says it is, and how to
// check that against the authenticator.
type Login struct {
	// User is the user name the client logs in as.
	User string
	// Check reports whether the credentials are right; an error means the
	// authenticator failed (not that they are wrong).
	Check func(ctx context.Context) (bool, error)
}

// Mechanism is one way of logging in.
type Mechanism struct {
	// Name is the mechanism's name: the SASL name, or the POP3 command.
	Name string
	// Plaintext is true when the mechanism carries a reusable password in
	// the clear: it is refused (and not offered) on connections that are
	// neither TLS nor loopback unless insecure auth is allowed.
	Plaintext bool
	// NeedsTLS is true when the mechanism is offered only over TLS.
	NeedsTLS bool
	// SASL is true for mechanisms of the AUTH command (RFC 5034).
	SASL bool
	// Backed reports whether an authenticator can check this mechanism's
	// credentials (through the optional interfaces of modules/auth); nil
	// means every authenticator can.
	Backed func(a Authenticator) bool
	// NewServer starts the server side of a SASL exchange; done is called
	// with the login once the client has sent it, and its error ends the
	// exchange. Nil for mechanisms that are not SASL.
	NewServer func(a Authenticator, done func(Login) error) sasl.Server
}

// Names of the mechanisms.
const (
	MechanismUser  = "USER"     // USER and PASS (RFC 1939)
	MechanismAPOP  = "APOP"     // APOP (RFC 1939 section 7)
	MechanismPlain = sasl.Plain // PLAIN (RFC 4616)
	MechanismLogin = sasl.Login // LOGIN (draft-murchison-sasl-login)
)

// ErrAuthzid is PLAIN's answer to an authorization identity that is not
// the user's own: one user may not act as another.
var ErrAuthzid = errors.New("authorization identity differs from the user name")

// all is the table, in the order CAPA and AUTH list the SASL mechanisms.
var all = []Mechanism{
	{Name: MechanismUser, Plaintext: true},
	{Name: MechanismAPOP, Backed: func(a Authenticator) bool { _, ok := a.(SecretLookup); return ok }},
	{Name: MechanismPlain, Plaintext: true, SASL: true, NewServer: newPlain},
	{Name: MechanismLogin, Plaintext: true, SASL: true, NewServer: newLogin},
}

// LookupMechanism returns the mechanism called name (case-insensitive).
func LookupMechanism(name string) (Mechanism, bool) {
	for _, m := range all {
		if strings.EqualFold(m.Name, name) {
			return m, true
		}
	}
	return Mechanism{}, false
}

// SASLMechanisms returns the SASL mechanisms of the table.
func SASLMechanisms() []Mechanism {
	var out []Mechanism
	for _, m := range all {
		if m.SASL {
			out = append(out, m)
		}
	}
	return out
}

// BackedMechanisms returns the mechanisms of ms that a can back.
func BackedMechanisms(a Authenticator, ms []Mechanism) []Mechanism {
	var out []Mechanism
	for _, m := range ms {
		if m.Backed == nil || (a != nil && m.Backed(a)) {
			out = append(out, m)
		}
	}
	return out
}

// KnownMechanism reports whether name is a mechanism of the table (metrics label
// the others "other").
func KnownMechanism(name string) bool {
	_, ok := LookupMechanism(name)
	return ok
}

// PasswordLogin is the login of a mechanism that sends user and password:
// checked by the authenticator.
func PasswordLogin(a Authenticator, user, password string) Login {
	return Login{User: user, Check: func(ctx context.Context) (bool, error) {
		return a.Authenticate(ctx, user, password)
	}}
}

// newPlain is PLAIN's server (RFC 4616): the authorization identity must
// be empty or the user name.
func newPlain(a Authenticator, done func(Login) error) sasl.Server {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return ErrAuthzid
		}
		return done(PasswordLogin(a, username, password))
	})
}

// newLogin is LOGIN's server (draft-murchison-sasl-login).
func newLogin(a Authenticator, done func(Login) error) sasl.Server {
	return sasl.NewLoginServer(func(username, password string) error {
		return done(PasswordLogin(a, username, password))
	})
}
