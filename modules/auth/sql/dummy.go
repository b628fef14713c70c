package sql

import (
	"sync"

	"github.com/caddy-pop3/caddy-pop3/modules/auth/passwdfile"
)

// maxTracked bounds the users dummyHash remembers.
const maxTracked = 10000

// dummyHash picks the hash an unknown user's password is checked against:
// one of the cost class (scheme and parameters) that most of the distinct
// users looked up so far have, as pop3.auth.passwd_file does with the
// users of its file. Counting users, not lookups, keeps one user's many
// logins from moving it.
type dummyHash struct {
	mu     sync.Mutex
	users  map[string]string // user -> cost class
	counts map[string]int    // cost class -> users
	sample map[string]*passwdfile.Hash
	common *passwdfile.Hash
	class  string
}

func newDummyHash() *dummyHash {
	return &dummyHash{
		users:  map[string]string{},
		counts: map[string]int{},
		sample: map[string]*passwdfile.Hash{},
		common: passwdfile.DummyHash(),
	}
}

// seen records the hash of a user found in the database.
func (d *dummyHash) seen(user string, h *passwdfile.Hash) {
	class := h.CostClass()
	d.mu.Lock()
	defer d.mu.Unlock()
	old, known := d.users[user]
	if known && old == class {
		return
	}
	if !known && len(d.users) >= maxTracked {
		return
	}
	if known {
		d.counts[old]--
	}
	d.users[user] = class
	d.counts[class]++
	d.sample[class] = h
	if d.class == "" || d.counts[class] > d.counts[d.class] {
		d.class = class
	}
	d.common = d.sample[d.class]
}

// hash returns the hash to check an unknown user against.
func (d *dummyHash) hash() *passwdfile.Hash {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.common
}
