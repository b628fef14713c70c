package passwdfile

import "strings"

// Hash is one decoded password hash, in any of the forms a passwd-file
// line accepts: {SCHEME}hash (BLF-CRYPT, SHA512-CRYPT, SHA256-CRYPT,
// MD5-CRYPT, ARGON2ID, ARGON2I, PLAIN/CLEAR, with .HEX or .B64) or a bare
// crypt(3) hash. It is for the authenticators that find hashes elsewhere
// (pop3.auth.sql), so that every authenticator understands the same
// schemes the same way.
type Hash struct {
	pw *password
}

// ParseHash decodes a password field. Besides the passwd-file forms it
// accepts a bare $argon2id$ or $argon2i$ hash, which is what Caddy's
// `caddy hash-password --algorithm argon2id` prints (its bcrypt output
// is a bare $2a$ crypt hash already). Its errors never quote the field,
// which is secret.
func ParseHash(field string) (*Hash, error) {
	switch {
	case strings.HasPrefix(field, "$argon2id$"):
		field = "{ARGON2ID}" + field
	case strings.HasPrefix(field, "$argon2i$"):
		field = "{ARGON2I}" + field
	}
	pw, err := parsePassword(field)
	if err != nil {
		return nil, err
	}
	return &Hash{pw: pw}, nil
}

// DummyHash returns the built-in hash an unknown user's password is
// checked against when no real hash is known to copy the cost of.
func DummyHash() *Hash {
	d, err := decoder.Decode(dummyHash)
	if err != nil {
		panic("passwdfile: the built-in dummy hash does not decode: " + err.Error())
	}
	return &Hash{pw: &password{digest: d, scheme: "SHA512-CRYPT", cost: "$6"}}
}

// Match reports whether password matches the hash, in constant time.
func (h *Hash) Match(password string) bool { return h.pw.digest.Match(password) }

// Plain returns the password itself for a PLAIN (CLEAR) hash, for APOP.
func (h *Hash) Plain() (string, bool) { return h.pw.plain, h.pw.hasPlain }

// Scheme is the Dovecot name of the hash's scheme, upper case.
func (h *Hash) Scheme() string { return h.pw.scheme }

// CostClass tells apart hashes that take different times to check: two
// hashes with the same class cost the same to Match.
func (h *Hash) CostClass() string { return h.pw.cost }
