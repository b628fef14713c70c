// Package accounts implements pop3.auth.accounts: user accounts written
// inline in the config, their passwords hashed with one of Caddy's own
// password hash modules (http.authentication.hashes.*: bcrypt, argon2id).
// The output of `caddy hash-password` is a valid account password.
package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

func init() {
	caddy.RegisterModule(Accounts{})
}

// defaultAlgorithm is the hash algorithm used when the config names none.
const defaultAlgorithm = "bcrypt"

// hashNamespace is the Caddy module namespace of password hashes.
const hashNamespace = "http.authentication.hashes"

// Accounts authenticates users against a list of accounts written in the
// config. User names are compared exactly: "Alice" and "alice" are two
// different users.
type Accounts struct {
	// The algorithm the passwords are hashed with, as a module of Caddy's
	// http.authentication.hashes namespace: {"algorithm": "bcrypt"} or
	// {"algorithm": "argon2id"}. Default: bcrypt.
	HashRaw json.RawMessage `json:"hash,omitempty" caddy:"namespace=http.authentication.hashes inline_key=algorithm"`

	// The accounts. At least one is required. Global placeholders such as
	// {env.ALICE_HASH} are replaced in user names and passwords.
	AccountList []Account `json:"accounts,omitempty"`

	algorithm string
	comparer  caddyauth.Comparer
	hashes    map[string][]byte
	fake      []byte
	logger    *zap.Logger
}

// Account is one user and the hash of their password.
type Account struct {
	// The user name, as the client sends it in USER or AUTH.
	Username string `json:"username"`

	// The password hash, as `caddy hash-password` prints it (for example
	// $2a$14$... for bcrypt or $argon2id$v=19$... for argon2id).
	Password string `json:"password"` //nolint:gosec // a hash, not a password
}

// CaddyModule returns the Caddy module information.
func (Accounts) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "pop3.auth.accounts",
		New: func() caddy.Module { return new(Accounts) },
	}
}

// Provision loads the hash module and checks every account: user names
// must be unique and every hash must be well formed for the algorithm, so a
// typo is reported when the config loads rather than when the user logs in.
func (a *Accounts) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()

	algorithm, err := a.algorithmName()
	if err != nil {
		return err
	}
	if _, err := caddy.GetModule(hashNamespace + "." + algorithm); err != nil {
		return fmt.Errorf("accounts: unknown hash algorithm %q (Caddy has bcrypt and argon2id)", algorithm)
	}
	if a.HashRaw == nil {
		a.HashRaw = json.RawMessage(`{"algorithm":"` + defaultAlgorithm + `"}`)
	}
	mod, err := ctx.LoadModule(a, "HashRaw")
	if err != nil {
		return fmt.Errorf("accounts: loading hash algorithm %q: %v", algorithm, err)
	}
	comparer, ok := mod.(caddyauth.Comparer)
	if !ok {
		return fmt.Errorf("accounts: hash algorithm %q cannot compare passwords", algorithm)
	}
	a.algorithm = algorithm
	a.comparer = comparer

	if len(a.AccountList) == 0 {
		return errors.New("accounts: no accounts configured")
	}
	repl := caddy.NewReplacer()
	a.hashes = make(map[string][]byte, len(a.AccountList))
	for i, acct := range a.AccountList {
		user := repl.ReplaceKnown(acct.Username, "")
		hash := repl.ReplaceKnown(acct.Password, "")
		if user == "" {
			return fmt.Errorf("accounts: account %d has no username", i)
		}
		if _, dup := a.hashes[user]; dup {
			return fmt.Errorf("accounts: duplicate username %q", user)
		}
		if hash == "" {
			return fmt.Errorf("accounts: user %q has no password hash", user)
		}
		if err := checkHash(algorithm, hash); err != nil {
			return fmt.Errorf("accounts: user %q: %v", user, err)
		}
		a.hashes[user] = []byte(hash)
	}

	a.fake, err = fakeHash(algorithm, comparer, a.hashes)
	if err != nil {
		return fmt.Errorf("accounts: %v", err)
	}
	auth.WarnTimingOutliers(a.logger, costOutliers(algorithm, a.hashes, a.fake), zap.String("algorithm", algorithm))
	return nil
}

// algorithmName returns the algorithm HashRaw names, or the default.
func (a *Accounts) algorithmName() (string, error) {
	if a.HashRaw == nil {
		return defaultAlgorithm, nil
	}
	var h struct {
		Algorithm string `json:"algorithm"`
	}
	if err := json.Unmarshal(a.HashRaw, &h); err != nil {
		return "", fmt.Errorf("accounts: hash: %v", err)
	}
	if h.Algorithm == "" {
		return "", errors.New(`accounts: hash: missing "algorithm"`)
	}
	return h.Algorithm, nil
}

// Authenticate reports whether password is the password of user. An
// unknown user costs the same hash comparison as a known one and gets the
// same answer as a wrong password: (false, nil).
func (a *Accounts) Authenticate(_ context.Context, user, password string) (bool, error) {
	hash, known := a.hashes[user]
	if !known {
		// Do the work a real check does, so that the time taken does not
		// tell whether the user exists. The answer is no either way.
		_, _ = a.comparer.Compare(a.fake, []byte(password))
		return false, nil
	}
	ok, err := a.comparer.Compare(hash, []byte(password))
	if err != nil {
		// Provision checked the hash, so this is unexpected; say which
		// user is affected, never the password or the hash.
		a.logger.Error("comparing password hash", zap.String("user", user), zap.String("algorithm", a.algorithm), zap.Error(err))
		return false, fmt.Errorf("accounts: checking password of %q: %v", user, err)
	}
	return ok, nil
}

// UserExists reports whether user has an account here (for the lmtp
// handler's recipient check).
func (a *Accounts) UserExists(_ context.Context, user string) (bool, error) {
	_, ok := a.hashes[user]
	return ok, nil
}

// Interface guards
var (
	_ caddy.Module       = (*Accounts)(nil)
	_ caddy.Provisioner  = (*Accounts)(nil)
	_ auth.Authenticator = (*Accounts)(nil)
	_ auth.UserLookup    = (*Accounts)(nil)
)
