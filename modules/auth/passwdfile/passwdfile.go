// Package passwdfile implements pop3.auth.passwd_file: users and password
// hashes read from a Dovecot-compatible passwd-file, re-read when it
// changes.
package passwdfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
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
// ($2y$, $6$, $5$, $1$, $y$), as with Dovecot's default CRYPT scheme. User
// names are compared exactly (case-sensitive).
//
// A line that cannot be used (no password, unknown scheme, malformed hash)
// is logged as a warning with its line number and that user cannot log in;
// the other users can. The file is checked for changes at most once a
// second, on login, and re-read when it changed; if it cannot be read,
// the users already loaded stay.
type PasswdFile struct {
	// Path of the passwd-file. Required. Global placeholders such as
	// {env.MAIL_USERS} are replaced.
	Path string `json:"path,omitempty"`

	path   string
	logger *zap.Logger
	// now is the clock; tests replace it.
	now func() time.Time

	// users is the table read last; Authenticate only reads it.
	users atomic.Pointer[table]

	// mu guards what follows: the state of the change check.
	mu sync.Mutex
	// checked is when the file was last looked at.
	checked time.Time
	// info is the file the table was read from.
	info os.FileInfo
	// failed is the last reload error logged, so that a file that stays
	// unreadable is logged once, not every second.
	failed string
}

// CaddyModule returns the Caddy module information.
func (*PasswdFile) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "pop3.auth.passwd_file",
		New: func() caddy.Module { return new(PasswdFile) },
	}
}

// Provision reads the file. A missing or unreadable file is an error; bad
// lines are not (they are logged).
func (p *PasswdFile) Provision(ctx caddy.Context) error {
	p.logger = ctx.Logger()
	return p.provision()
}

// provision is Provision once the logger is set.
func (p *PasswdFile) provision() error {
	if p.now == nil {
		p.now = time.Now
	}
	if p.Path == "" {
		return errors.New("passwd_file: path is required")
	}
	p.path = caddy.NewReplacer().ReplaceKnown(p.Path, "")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checked = p.now()
	if err := p.load(); err != nil {
		return fmt.Errorf("passwd_file: path %q: %v", p.path, err)
	}
	return nil
}

// Authenticate reports whether password is the password of user. An unknown
// or disabled user costs the same as a known one and gets the same answer
// as a wrong password: (false, nil).
func (p *PasswdFile) Authenticate(_ context.Context, user, password string) (bool, error) {
	t := p.current()
	pw, ok := t.users[user]
	if !ok {
		// Do the work of a real check so that the time taken does not
		// tell whether the user exists. The answer is no either way.
		t.dummy.Match(password)
		return false, nil
	}
	return pw.digest.Match(password), nil
}

// PlainSecret returns the password of a user whose line has a PLAIN (or
// CLEAR) password, for APOP. ok is false for other users.
func (p *PasswdFile) PlainSecret(_ context.Context, user string) (string, bool, error) {
	pw, ok := p.current().users[user]
	if !ok || !pw.hasPlain {
		return "", false, nil
	}
	return pw.plain, true, nil
}

// Interface guards
var (
	_ caddy.Module       = (*PasswdFile)(nil)
	_ caddy.Provisioner  = (*PasswdFile)(nil)
	_ auth.Authenticator = (*PasswdFile)(nil)
	_ auth.SecretLookup  = (*PasswdFile)(nil)
)
