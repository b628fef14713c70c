package accounts

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the accounts from Caddyfile tokens. Syntax:
//
//	accounts [<algorithm>] {
//		<username> <hash>
//		...
//	}
//
// The algorithm is a Caddy password hash module (bcrypt or argon2id);
// default bcrypt. Each line of the block is one account: its user name and
// its password hash, as `caddy hash-password` prints it.
func (a *Accounts) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name

	if d.NextArg() {
		algorithm := d.Val()
		if algorithm == "" {
			return d.Err("accounts: empty hash algorithm")
		}
		raw, err := json.Marshal(map[string]string{"algorithm": algorithm})
		if err != nil {
			return d.Errf("accounts: %v", err)
		}
		a.HashRaw = raw
	}
	if d.NextArg() {
		return d.Errf("accounts: unexpected argument %q (syntax: accounts [<algorithm>] { <username> <hash> })", d.Val())
	}

	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		user := d.Val()
		if !d.NextArg() {
			return d.Errf("accounts: user %q: missing password hash", user)
		}
		hash := d.Val()
		if d.NextArg() {
			return d.Errf("accounts: user %q: unexpected argument %q after the hash", user, d.Val())
		}
		if d.NextBlock(d.Nesting()) {
			return d.Errf("accounts: user %q: blocks are not supported", user)
		}
		if seen[user] {
			return d.Errf("accounts: duplicate username %q", user)
		}
		seen[user] = true
		a.AccountList = append(a.AccountList, Account{Username: user, Password: hash})
	}
	if len(a.AccountList) == 0 {
		return d.Err("accounts: no accounts (syntax: accounts [<algorithm>] { <username> <hash> })")
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Accounts)(nil)
