package storage

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
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

// ExpandPath replaces the pop3.user placeholders of a storage path template
// with the parts of user, after checking that user is safe to put in a path
// (see ValidateUser). {pop3.user.local} is the part before '@' (the whole
// name when there is none) and {pop3.user.domain} the part after it; a
// template that uses {pop3.user.domain} refuses users without a domain, so
// that two users can never share a path by accident. Other Caddy global
// placeholders ({env.*}, ...) are replaced too.
func ExpandPath(template, user string) (string, error) {
	if err := ValidateUser(user); err != nil {
		return "", err
	}
	local, domain, _ := strings.Cut(user, "@")
	if domain == "" && strings.Contains(template, PlaceholderUserDomain) {
		return "", ErrInvalidUser
	}
	repl := caddy.NewReplacer()
	repl.Set("pop3.user", user)
	repl.Set("pop3.user.local", local)
	repl.Set("pop3.user.domain", domain)
	out, err := repl.ReplaceOrErr(template, true, true)
	if err != nil {
		return "", fmt.Errorf("expanding storage path %q: %w", template, err)
	}
	return out, nil
}

// ValidateTemplate checks a storage path template at load time: it must
// not be empty and every placeholder in it must be known. It returns an
// error that names what is wrong.
func ValidateTemplate(template string) error {
	if strings.TrimSpace(template) == "" {
		return fmt.Errorf("path is empty")
	}
	if _, err := ExpandPath(template, "user@example.com"); err != nil {
		return fmt.Errorf("path %q: %v", template, err)
	}
	return nil
}

// DefaultMaildirPath is the maildir path template of a handler that
// configures no storage: <caddy data dir>/pop3/mail/{pop3.user}/Maildir.
func DefaultMaildirPath() string {
	return filepath.Join(caddy.AppDataDir(), "pop3", "mail", PlaceholderUser, "Maildir")
}

// DefaultStorage is the storage guest module (JSON, as under a handler's
// "storage" key) of a handler that configures none: maildir at
// DefaultMaildirPath. The pop3 and lmtp handlers and the pop3 commands use
// it, so that they all find the same mail.
func DefaultStorage() json.RawMessage {
	raw, _ := json.Marshal(map[string]string{"module": "maildir", "path": DefaultMaildirPath()})
	return raw
}
