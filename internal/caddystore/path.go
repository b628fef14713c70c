package caddystore

import (
	"fmt"
	"strings"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddyserver/caddy/v2"
)

// ExpandPath replaces the pop3.user placeholders of a storage path template
// with the parts of user, after checking that user is safe to put in a path
// (see storage.ValidateUser). {pop3.user.local} is the part before '@' (the whole
// name when there is none) and {pop3.user.domain} the part after it; a
// template that uses {pop3.user.domain} refuses users without a domain, so
// that two users can never share a path by accident. Other Caddy global
// placeholders ({env.*}, ...) are replaced too.
func ExpandPath(template, user string) (string, error) {
	if err := storage.ValidateUser(user); err != nil {
		return "", err
	}
	local, domain, _ := strings.Cut(user, "@")
	if domain == "" && strings.Contains(template, storage.PlaceholderUserDomain) {
		return "", storage.ErrInvalidUser
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
