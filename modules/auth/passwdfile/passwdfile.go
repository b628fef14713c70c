// Package passwdfile implements pop3.auth.passwd_file: users and password
// hashes read from a Dovecot-compatible passwd-file, re-read when it
// changes.
package passwdfile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

func init() {
	caddy.RegisterModule(new(PasswdFile))
}

// PasswdFile authenticates users against a Dovecot passwd-file:
//
//	user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
//
// Only the user and password fields are used; the others may be missing.
// Schemes: BLF-CRYPT, SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT, ARGON2ID,
// ARGON2I, PLAIN (also CLEAR, CLEARTEXT), each optionally with a .HEX or
// .B64 encoding suffix; a hash with no {SCHEME} is a crypt(3) hash
// ($2y$, $6$, $5$, $1$, $y$), as with Dovecot's default CRYPT scheme, or
// a password of DefaultScheme when it is set. User names are compared
// exactly (case-sensitive).
//
// A line that cannot be used (no password, unknown scheme, malformed hash)
// is logged as a warning with its line number and that user cannot log in;
// the other users can. The file is checked for changes at most once a
// second, on login, and re-read when it changed; if it cannot be read,
// the users already loaded stay.
type PasswdFile struct {
	// Path of the passwd-file. Required. Global placeholders such as
	// {env.MAIL_USERS} are replaced. Dovecot's variables make one file
	// per domain: %d (or %{domain}) is the part of the login name after
	// '@', %n (%{username}) the part before it, %u (%{user}) the whole
	// name, %% a '%'; for example /etc/mail/%d/passwd. Such files are read
	// on first use and cached; a missing one means that domain has no
	// users, and a name without a domain cannot log in when the path has
	// %d.
	Path string `json:"path,omitempty"`

	// DefaultScheme is the scheme of passwords written without {SCHEME}
	// (Dovecot's passwd-file argument scheme=), for example PLAIN or
	// SHA512-CRYPT, optionally with .HEX or .B64. Default: CRYPT, a bare
	// crypt(3) hash.
	DefaultScheme string `json:"default_scheme,omitempty"`

	// scheme is DefaultScheme checked, upper case.
	scheme string
	logger *zap.Logger
	// now is the clock; tests replace it.
	now func() time.Time

	// single is the file when Path has no variable.
	single *source
	// tmpl and files are the path and the files read when it has.
	tmpl  *pathTemplate
	files *sourceCache
	// maxFiles bounds files; tests lower it.
	maxFiles int
}

// CaddyModule returns the Caddy module information.
func (*PasswdFile) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "pop3.auth.passwd_file",
		New: func() caddy.Module { return new(PasswdFile) },
	}
}

// Provision reads the file. A missing or unreadable file is an error; bad
// lines are not (they are logged). Per-domain files are read later, on
// first use.
func (p *PasswdFile) Provision(ctx caddy.Context) error {
	p.logger = ctx.Logger()
	return p.provision()
}

// provision is Provision once the logger is set.
func (p *PasswdFile) provision() error {
	if p.now == nil {
		p.now = time.Now
	}
	p.scheme = defaultScheme
	if p.DefaultScheme != "" {
		s, err := CheckScheme(p.DefaultScheme)
		if err != nil {
			return fmt.Errorf("passwd_file: default_scheme: %v", err)
		}
		p.scheme = s
	}
	if p.Path == "" {
		return errors.New("passwd_file: path is required")
	}
	path := caddy.NewReplacer().ReplaceKnown(p.Path, "")
	tmpl, err := parseTemplate(path)
	if err != nil {
		return fmt.Errorf("passwd_file: path %q: %v", p.Path, err)
	}
	if tmpl.vars {
		if p.maxFiles <= 0 {
			p.maxFiles = maxCachedFiles
		}
		p.tmpl, p.files = tmpl, newSourceCache(p.maxFiles)
		return nil
	}
	s := &source{path: tmpl.static(), p: p}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked = p.now()
	if err := s.load(); err != nil {
		return fmt.Errorf("passwd_file: path %q: %v", s.path, err)
	}
	p.single = s
	return nil
}

// lookup returns the table that holds user, or nil when no file can hold
// that name (a name unfit for a path, or without the domain the path
// needs).
func (p *PasswdFile) lookup(user string) *table {
	if p.single != nil {
		return p.single.current()
	}
	path, err := p.tmpl.expand(user)
	if err != nil {
		return nil
	}
	return p.files.get(path, func(path string) *source {
		return &source{path: path, perDomain: true, p: p}
	}).current()
}

// unknownUser is the table of a name no file can hold.
var unknownUser = &table{users: map[string]*password{}, dummy: builtinDummy()}

// Authenticate reports whether password is the password of user. An unknown
// or disabled user costs the same as a known one and gets the same answer
// as a wrong password: (false, nil). A per-domain file that cannot be read
// is an error.
func (p *PasswdFile) Authenticate(_ context.Context, user, password string) (bool, error) {
	t := p.lookup(user)
	if t == nil {
		t = unknownUser
	}
	pw, ok := t.users[user]
	if !ok {
		// Do the work of a real check so that the time taken does not
		// tell whether the user exists. The answer is no either way.
		t.dummy.Match(password)
		if t.err != nil {
			return false, fmt.Errorf("passwd_file: %v", t.err)
		}
		return false, nil
	}
	return pw.digest.Match(password), nil
}

// PlainSecret returns the password of a user whose line has a PLAIN (or
// CLEAR) password, for APOP. ok is false for other users.
func (p *PasswdFile) PlainSecret(_ context.Context, user string) (string, bool, error) {
	t := p.lookup(user)
	if t == nil {
		return "", false, nil
	}
	pw, ok := t.users[user]
	if !ok || !pw.hasPlain {
		if t.err != nil {
			return "", false, fmt.Errorf("passwd_file: %v", t.err)
		}
		return "", false, nil
	}
	return pw.plain, true, nil
}

// UserExists reports whether user has a line in the passwd-file (for the
// lmtp handler's recipient check). A per-domain file that cannot be read
// is an error.
func (p *PasswdFile) UserExists(_ context.Context, user string) (bool, error) {
	t := p.lookup(user)
	if t == nil {
		return false, nil
	}
	if _, ok := t.users[user]; ok {
		return true, nil
	}
	if t.err != nil {
		return false, fmt.Errorf("passwd_file: %v", t.err)
	}
	return false, nil
}

// Interface guards
var (
	_ auth.UserLookup    = (*PasswdFile)(nil)
	_ caddy.Module       = (*PasswdFile)(nil)
	_ caddy.Provisioner  = (*PasswdFile)(nil)
	_ auth.Authenticator = (*PasswdFile)(nil)
	_ auth.SecretLookup  = (*PasswdFile)(nil)
)
