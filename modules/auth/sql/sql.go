// Package sql implements pop3.auth.sql: users and password hashes looked
// up in PostgreSQL with a configurable query, for the nodes of a cluster
// that share one database (see pop3.storage.postgres).
package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/pgpool"
	"github.com/caddy-pop3/caddy-pop3/modules/auth"
	"github.com/caddy-pop3/caddy-pop3/modules/auth/passwdfile"
)

func init() {
	caddy.RegisterModule(new(SQL))
}

// Defaults.
const (
	// DefaultQuery is the query used when none is configured.
	DefaultQuery = "SELECT password FROM users WHERE username = $1"
	// DefaultTimeout bounds one lookup.
	DefaultTimeout = 5 * time.Second
)

// SQL authenticates users against password hashes returned by a
// PostgreSQL query. The query gets the user name as $1 and returns one
// row with one column, the hash, for a user who may log in; no row or a
// NULL means no such user (or disabled). Hashes are Dovecot-style
// {SCHEME}hash (BLF-CRYPT, SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT,
// ARGON2ID, ARGON2I, PLAIN; .HEX/.B64 suffixes) or bare crypt(3) hashes,
// which include the bcrypt and argon2id hashes of `caddy hash-password`.
//
// An unknown user takes the same time as a wrong password: the password
// is checked against a hash costing what most users' hashes looked up so
// far cost. A database that is down or slow is an error (the handler answers
// -ERR [SYS/TEMP]), never a wrong password. Modules with the same DSN
// share one connection pool.
type SQL struct {
	// DSN is the PostgreSQL connection string (postgres:// URL or
	// key=value pairs). Global placeholders ({env.POP3_DSN}) are
	// replaced. Required.
	DSN string `json:"dsn,omitempty"`

	// Query returns the password hash of the user given as $1. Default:
	// SELECT password FROM users WHERE username = $1.
	Query string `json:"query,omitempty"`

	// Timeout bounds one lookup, connecting included. Default 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	dsn    string
	pool   *pgxpool.Pool
	logger *zap.Logger
	// dummy picks what an unknown user's password is checked against.
	dummy *dummyHash
}

// CaddyModule returns the Caddy module information.
func (*SQL) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "pop3.auth.sql",
		New: func() caddy.Module { return new(SQL) },
	}
}

// Provision sets the defaults and takes the shared pool for the DSN. It
// does not connect: a database that is down at start is reported at the
// first login.
func (s *SQL) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	return s.setup()
}

// setup is Provision without the logger.
func (s *SQL) setup() error {
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	if s.Query == "" {
		s.Query = DefaultQuery
	}
	if s.Timeout == 0 {
		s.Timeout = caddy.Duration(DefaultTimeout)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	s.dsn = caddy.NewReplacer().ReplaceKnown(s.DSN, "")
	if s.dsn == "" {
		return errors.New("sql: dsn is empty once placeholders are replaced (is the environment variable set?)")
	}
	pool, err := pgpool.Acquire(s.dsn, time.Duration(s.Timeout))
	if err != nil {
		return fmt.Errorf("sql: dsn: %w", err)
	}
	s.pool = pool
	s.dummy = newDummyHash()
	return nil
}

// Validate checks the configuration.
func (s *SQL) Validate() error {
	if s.DSN == "" {
		return errors.New("sql: dsn is required")
	}
	if s.Query != "" && !strings.Contains(s.Query, "$1") {
		return errors.New("sql: query must use $1 for the user name")
	}
	if s.Timeout < 0 {
		return fmt.Errorf("sql: timeout %s must be positive", time.Duration(s.Timeout))
	}
	return nil
}

// Cleanup lets go of the shared pool.
func (s *SQL) Cleanup() error {
	if s.pool != nil {
		pgpool.Release(s.dsn)
		s.pool = nil
	}
	return nil
}

// lookup runs the query for user. ok is false for an unknown or disabled
// user (no row, or NULL) and for a hash that does not decode (logged).
func (s *SQL) lookup(ctx context.Context, user string) (h *passwdfile.Hash, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.Timeout))
	defer cancel()
	rows, err := s.pool.Query(ctx, s.Query, user)
	if err != nil {
		return nil, false, fmt.Errorf("sql: looking up a user: %w", err)
	}
	defer rows.Close()
	var field *string
	n := 0
	for rows.Next() {
		n++
		if n > 1 {
			return nil, false, errors.New("sql: the query returned more than one row for a user")
		}
		if err := rows.Scan(&field); err != nil {
			return nil, false, fmt.Errorf("sql: the query must return one text column, the password hash: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("sql: looking up a user: %w", err)
	}
	if field == nil {
		return nil, false, nil
	}
	h, err = passwdfile.ParseHash(*field)
	if err != nil {
		s.logger.Warn("sql: the password hash of a user cannot be used; the user cannot log in",
			zap.String("user", printable(user)), zap.String("reason", err.Error()))
		return nil, false, nil
	}
	return h, true, nil
}

// Authenticate reports whether password is the password of user. An
// unknown or disabled user costs the same as a known one and gets the
// same answer as a wrong password: (false, nil). A failed lookup is an
// error.
func (s *SQL) Authenticate(ctx context.Context, user, password string) (bool, error) {
	h, ok, err := s.lookup(ctx, user)
	if err != nil {
		return false, err
	}
	if !ok {
		// Do the work of a real check so that the time taken does not
		// tell whether the user exists. The answer is no either way.
		s.dummy.hash().Match(password)
		return false, nil
	}
	s.dummy.seen(user, h)
	return h.Match(password), nil
}

// PlainSecret returns the password of a user whose hash is {PLAIN}, for
// APOP. ok is false for other users.
func (s *SQL) PlainSecret(ctx context.Context, user string) (string, bool, error) {
	h, ok, err := s.lookup(ctx, user)
	if err != nil || !ok {
		return "", false, err
	}
	secret, plain := h.Plain()
	return secret, plain, nil
}

// UserExists reports whether the query finds user (for the lmtp handler's
// recipient check). A failed lookup is an error.
func (s *SQL) UserExists(ctx context.Context, user string) (bool, error) {
	_, ok, err := s.lookup(ctx, user)
	return ok, err
}

// printable makes a user name safe for a log line.
func printable(user string) string {
	if len(user) > 128 {
		user = user[:128]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, user)
}

// Interface guards.
var (
	_ caddy.Provisioner  = (*SQL)(nil)
	_ caddy.Validator    = (*SQL)(nil)
	_ caddy.CleanerUpper = (*SQL)(nil)
	_ auth.Authenticator = (*SQL)(nil)
	_ auth.SecretLookup  = (*SQL)(nil)
	_ auth.UserLookup    = (*SQL)(nil)
)
