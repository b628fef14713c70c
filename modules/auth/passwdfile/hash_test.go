package passwdfile

import (
	"strings"
	"testing"
)

func TestParseHash(t *testing.T) {
	// Caddy's FakeHash format: `caddy hash-password --algorithm argon2id`.
	const caddyArgon2id = "$argon2id$v=19$m=47104,t=1,p=1$P2nzckEdTZ3bxCiBCkRTyA$xQL3Z32eo5jKl7u5tcIsnEKObYiyNZQQf5/4sAau6Pg"
	for _, tt := range []struct {
		field, scheme string
		ok            bool
	}{
		{caddyArgon2id, "ARGON2ID", true},
		{"{ARGON2ID}" + caddyArgon2id, "ARGON2ID", true},
		{dummyHash, "CRYPT", true},
		{"{SHA512-CRYPT}" + dummyHash, "SHA512-CRYPT", true},
		{"{PLAIN}secret", "PLAIN", true},
		{"$argon2id$garbage-secret", "", false},
		{"{NOPE}secret", "", false},
		{"", "", false},
	} {
		h, err := ParseHash(tt.field)
		if (err == nil) != tt.ok {
			t.Errorf("ParseHash(%q): %v, want ok %v", tt.field, err, tt.ok)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseHash error quotes the hash: %v", err)
			}
			continue
		}
		if h.Scheme() != tt.scheme {
			t.Errorf("ParseHash(%q).Scheme() = %q, want %q", tt.field, h.Scheme(), tt.scheme)
		}
	}
	h, _ := ParseHash("{SHA512-CRYPT}" + dummyHash)
	if !h.Match("secret") || h.Match("Secret") {
		t.Error("SHA512-CRYPT of secret does not match exactly secret")
	}
	if DummyHash().Match("") || DummyHash().CostClass() != h.CostClass() {
		t.Error("DummyHash is not a SHA512-CRYPT hash of the default cost")
	}
}
