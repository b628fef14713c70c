package passwdfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// errNoDomain is the answer for a user name without a domain when the path
// needs one (%d): that user cannot log in.
var errNoDomain = errors.New("user name has no domain")

// pathTemplate is a passwd-file path with Dovecot variables in it, such as
// /etc/mail/%d/passwd: one file per domain.
//
//	%u, %{user}      the whole user name
//	%n, %{username}  the part before '@' (the whole name when there is none)
//	%d, %{domain}    the part after '@'; a name without one cannot log in
//	%%               a '%'
type pathTemplate struct {
	// parts alternates text and variables: a variable is "u", "n" or
	// "d", text is anything else stored with a leading '='.
	parts []string
	// vars is true when the path has a variable; without one it is a
	// single file.
	vars bool
	// needsDomain is true when the path has %d.
	needsDomain bool
}

// longVars are Dovecot's long variable names this module knows.
var longVars = map[string]string{"user": "u", "username": "n", "domain": "d"}

// parseTemplate reads the variables of a passwd-file path. An unknown
// variable is an error that names it.
func parseTemplate(path string) (*pathTemplate, error) {
	t := new(pathTemplate)
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			t.parts = append(t.parts, "="+text.String())
			text.Reset()
		}
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c != '%' {
			text.WriteByte(c)
			continue
		}
		if i+1 == len(path) {
			return nil, errors.New("a lone % at the end (write %% for a '%')")
		}
		i++
		var v string
		switch c := path[i]; c {
		case '%':
			text.WriteByte('%')
			continue
		case 'u', 'n', 'd':
			v = string(c)
		case '{':
			end := strings.IndexByte(path[i:], '}')
			if end < 0 {
				return nil, errors.New("%{ without a closing }")
			}
			name := path[i+1 : i+end]
			if v = longVars[name]; v == "" {
				return nil, fmt.Errorf("unknown variable %%{%s} (want %%{user}, %%{username} or %%{domain})", name)
			}
			i += end
		default:
			return nil, fmt.Errorf("unknown variable %%%c (want %%u, %%n, %%d, %%{user}, %%{username}, %%{domain} or %%%%)", c)
		}
		flush()
		t.parts = append(t.parts, v)
		t.vars = true
		t.needsDomain = t.needsDomain || v == "d"
	}
	flush()
	return t, nil
}

// expand returns the file of user. The name is checked first so that it
// cannot change the path's meaning (storage.ValidateUser: no '/', '\', "..",
// control characters or leading dot; and no ':', which a passwd-file name
// cannot hold anyway). errNoDomain is returned for a name without a domain
// when the path needs one.
func (t *pathTemplate) expand(user string) (string, error) {
	if err := storage.ValidateUser(user); err != nil || strings.ContainsRune(user, ':') {
		return "", storage.ErrInvalidUser
	}
	local, domain, hasDomain := strings.Cut(user, "@")
	if t.needsDomain && !hasDomain {
		return "", errNoDomain
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p {
		case "u":
			b.WriteString(user)
		case "n":
			b.WriteString(local)
		case "d":
			b.WriteString(domain)
		default:
			b.WriteString(p[1:])
		}
	}
	return b.String(), nil
}

// static returns the path of a template without variables.
func (t *pathTemplate) static() string {
	var b strings.Builder
	for _, p := range t.parts {
		b.WriteString(p[1:])
	}
	return b.String()
}
