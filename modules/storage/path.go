package storage

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The placeholders a storage path template may use.
const (
	PlaceholderUser       = "{pop3.user}"
	PlaceholderUserLocal  = "{pop3.user.local}"
	PlaceholderUserDomain = "{pop3.user.domain}"
)

// MaxUserLength is the longest user name a path template accepts.
const MaxUserLength = 255

// ValidateUser reports whether user can safely become part of a path: not
// empty, at most MaxUserLength bytes of valid UTF-8, no path separator, no
// control character, no NUL, and not a "." or ".." component, nor starting
// with a dot (which would name a hidden or relative directory).
func ValidateUser(user string) error {
	if user == "" || len(user) > MaxUserLength || !utf8.ValidString(user) {
		return ErrInvalidUser
	}
	if strings.HasPrefix(user, ".") || strings.Contains(user, "..") {
		return ErrInvalidUser
	}
	for _, r := range user {
		if r == '/' || r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return ErrInvalidUser
		}
	}
	local, domain, hasDomain := strings.Cut(user, "@")
	if local == "" || (hasDomain && (domain == "" || strings.HasPrefix(domain, "."))) || strings.Contains(domain, "@") {
		return ErrInvalidUser
	}
	return nil
}
