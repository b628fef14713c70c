// Package auth defines what a caddy-pop3 authenticator is. Authenticators
// are Caddy modules in the pop3.auth namespace (pop3.auth.accounts,
// pop3.auth.passwd_file, ...).
package auth

import (
	"context"
	"strings"
)

// Authenticator checks a user's credentials. It must be safe for concurrent
// use, compare secrets in constant time, and take the same time for an
// unknown user as for a wrong password (compare against a fake hash).
type Authenticator interface {
	// Authenticate reports whether password is the password of user. It
	// returns an error only when it could not decide (an unreadable user
	// database, ...), never for a wrong password or an unknown user.
	Authenticate(ctx context.Context, user, password string) (bool, error)
}

// SecretLookup is implemented by authenticators that store some users'
// secrets in plain text and can therefore check APOP digests. ok is false
// when the user is unknown or has no plain-text secret.
type SecretLookup interface {
	PlainSecret(ctx context.Context, user string) (secret string, ok bool, err error)
}

// UserLookup is implemented by authenticators that can say whether a user
// exists without a password: the lmtp handler refuses unknown recipients
// at RCPT time (550 5.1.1) instead of creating a new, unread mailbox.
type UserLookup interface {
	// UserExists reports whether user is an account. It returns an
	// error only when it could not decide (an unreadable user database).
	UserExists(ctx context.Context, user string) (bool, error)
}

// PrintableUser makes a client-supplied user name safe for a log line:
// at most 64 bytes, control characters replaced by '?'.
func PrintableUser(user string) string {
	const maxLen = 64
	if len(user) > maxLen {
		user = user[:maxLen]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, user)
}
