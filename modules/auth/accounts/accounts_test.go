package accounts

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// bcryptHash hashes password with bcrypt's lowest cost, to keep tests fast.
func bcryptHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// cheapArgon2 is a valid argon2id hash with small parameters (64 KiB, one
// pass, one thread, 32-byte key); argon2idHash uses its parameters.
const cheapArgon2 = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// argon2idHash hashes password with Caddy's own Argon2idHash module: the
// parameters come from DecodeHash (the module's fields are unexported).
func argon2idHash(t *testing.T, password string) string {
	t.Helper()
	hasher, _, err := caddyauth.DecodeHash([]byte(cheapArgon2))
	if err != nil {
		t.Fatal(err)
	}
	h, err := hasher.Hash([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// provision provisions a in a fresh Caddy context.
func provision(t *testing.T, a *Accounts) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return a.Provision(ctx)
}

// hashJSON is the JSON of a hash module choice.
func hashJSON(algorithm string) json.RawMessage {
	return json.RawMessage(`{"algorithm":"` + algorithm + `"}`)
}

func TestAuthenticate(t *testing.T) {
	type attempt struct {
		user, password string
		want           bool
	}
	tests := []struct {
		name      string
		algorithm string // "" for the default
		accounts  func(t *testing.T) []Account
		attempts  []attempt
	}{
		{
			name: "bcrypt by default",
			accounts: func(t *testing.T) []Account {
				return []Account{
					{Username: "alice", Password: bcryptHash(t, "wonderland")},
					{Username: "bob@example.com", Password: bcryptHash(t, "builder")},
				}
			},
			attempts: []attempt{
				{"alice", "wonderland", true},
				{"bob@example.com", "builder", true},
				{"alice", "builder", false},
				{"alice", "", false},
				{"alice", "wonderland ", false},
				{"Alice", "wonderland", false}, // user names are case-sensitive
				{"carol", "wonderland", false},
				{"", "", false},
			},
		},
		{
			name:      "bcrypt named",
			algorithm: "bcrypt",
			accounts: func(t *testing.T) []Account {
				return []Account{{Username: "alice", Password: bcryptHash(t, "pässwörd ✓")}}
			},
			attempts: []attempt{
				{"alice", "pässwörd ✓", true},
				{"alice", "passwort", false},
			},
		},
		{
			name:      "argon2id",
			algorithm: "argon2id",
			accounts: func(t *testing.T) []Account {
				return []Account{
					{Username: "alice", Password: argon2idHash(t, "wonderland")},
					{Username: "bob", Password: argon2idHash(t, "builder")},
				}
			},
			attempts: []attempt{
				{"alice", "wonderland", true},
				{"bob", "builder", true},
				{"bob", "wonderland", false},
				{"mallory", "wonderland", false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Accounts{AccountList: tt.accounts(t)}
			if tt.algorithm != "" {
				a.HashRaw = hashJSON(tt.algorithm)
			}
			if err := provision(t, a); err != nil {
				t.Fatalf("Provision: %v", err)
			}
			for _, at := range tt.attempts {
				got, err := a.Authenticate(context.Background(), at.user, at.password)
				if err != nil {
					t.Errorf("Authenticate(%q, %q): unexpected error %v", at.user, at.password, err)
				}
				if got != at.want {
					t.Errorf("Authenticate(%q, %q) = %v, want %v", at.user, at.password, got, at.want)
				}
			}
		})
	}
}

func TestProvisionErrors(t *testing.T) {
	good := bcryptHash(t, "secret")
	tests := []struct {
		name     string
		hash     json.RawMessage
		accounts []Account
		want     string // a part of the error
	}{
		{
			name: "no accounts",
			want: "accounts: no accounts configured",
		},
		{
			name:     "duplicate user",
			accounts: []Account{{"alice", good}, {"bob", good}, {"alice", good}},
			want:     `accounts: duplicate username "alice"`,
		},
		{
			name:     "missing hash",
			accounts: []Account{{Username: "alice"}},
			want:     `accounts: user "alice" has no password hash`,
		},
		{
			name:     "missing user name",
			accounts: []Account{{Password: good}},
			want:     "accounts: account 0 has no username",
		},
		{
			name:     "unknown algorithm",
			hash:     hashJSON("md5"),
			accounts: []Account{{"alice", good}},
			want:     `accounts: unknown hash algorithm "md5"`,
		},
		{
			name:     "algorithm missing",
			hash:     json.RawMessage(`{}`),
			accounts: []Account{{"alice", good}},
			want:     `accounts: hash: missing "algorithm"`,
		},
		{
			name:     "plain text where a bcrypt hash belongs",
			accounts: []Account{{"alice", "secret"}},
			want:     `accounts: user "alice": not a bcrypt hash`,
		},
		{
			name:     "truncated bcrypt hash",
			accounts: []Account{{"alice", good}, {"bob", good[:50]}},
			want:     `accounts: user "bob": malformed bcrypt hash`,
		},
		{
			name:     "bcrypt hash with a bad character",
			accounts: []Account{{"alice", good[:40] + "!" + good[41:]}},
			want:     `accounts: user "alice": malformed bcrypt hash: invalid character`,
		},
		{
			name:     "bcrypt cost out of range",
			accounts: []Account{{"alice", "$2a$99$" + good[7:]}},
			want:     `accounts: user "alice": malformed bcrypt hash`,
		},
		{
			name:     "argon2id hash under bcrypt",
			accounts: []Account{{"alice", cheapArgon2}},
			want:     `accounts: user "alice": not a bcrypt hash`,
		},
		{
			name:     "bcrypt hash under argon2id",
			hash:     hashJSON("argon2id"),
			accounts: []Account{{"alice", good}},
			want:     `accounts: user "alice": not an argon2id hash`,
		},
		{
			name:     "argon2id hash with bad base64",
			hash:     hashJSON("argon2id"),
			accounts: []Account{{"alice", strings.Replace(cheapArgon2, "c2Fsd", "c2F!d", 1)}},
			want:     `accounts: user "alice": malformed argon2id hash`,
		},
		{
			name:     "argon2id hash with no key (would match any password)",
			hash:     hashJSON("argon2id"),
			accounts: []Account{{"alice", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"}},
			want:     `accounts: user "alice": malformed argon2id hash: key of 0 bytes is too short`,
		},
		{
			name:     "argon2id hash with zero passes (would panic)",
			hash:     hashJSON("argon2id"),
			accounts: []Account{{"alice", strings.Replace(cheapArgon2, "t=1", "t=0", 1)}},
			want:     `accounts: user "alice": malformed argon2id hash: t and p must be at least 1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Accounts{HashRaw: tt.hash, AccountList: tt.accounts}
			err := provision(t, a)
			if err == nil {
				t.Fatalf("Provision succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Provision error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestPlaceholders(t *testing.T) {
	t.Setenv("POP3_TEST_ALICE_HASH", bcryptHash(t, "wonderland"))
	a := &Accounts{AccountList: []Account{{"alice", "{env.POP3_TEST_ALICE_HASH}"}}}
	if err := provision(t, a); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	ok, err := a.Authenticate(context.Background(), "alice", "wonderland")
	if err != nil || !ok {
		t.Fatalf("Authenticate = %v, %v; want true, nil", ok, err)
	}
}

// TestFakeHashCost checks that an unknown user's password is compared with
// a hash that costs what the accounts' hashes cost.
func TestFakeHashCost(t *testing.T) {
	defaultFake := string(caddyauth.BcryptHash{}.FakeHash())
	tests := []struct {
		name      string
		algorithm string
		hashes    []string
		wantCost  string // costOf the fake hash
		wantFake  string // the exact fake hash, when known
	}{
		{
			name:     "low-cost bcrypt accounts get a low-cost fake",
			hashes:   []string{bcryptHash(t, "a"), bcryptHash(t, "b")},
			wantCost: "bcrypt$4",
		},
		{
			name:     "the most common cost wins",
			hashes:   []string{bcryptHash(t, "a"), defaultFake, bcryptHash(t, "c")},
			wantCost: "bcrypt$4",
		},
		{
			name:     "accounts at Caddy's default cost use Caddy's FakeHash",
			hashes:   []string{defaultFake},
			wantFake: defaultFake,
		},
		{
			name:      "argon2id accounts get a fake with their parameters",
			algorithm: "argon2id",
			hashes:    []string{argon2idHash(t, "a"), argon2idHash(t, "b")},
			wantCost:  "argon2id$v=19$m=64,t=1,p=1$32",
		},
		{
			name:      "argon2id accounts at Caddy's defaults use Caddy's FakeHash",
			algorithm: "argon2id",
			hashes:    []string{string(caddyauth.Argon2idHash{}.FakeHash())},
			wantFake:  string(caddyauth.Argon2idHash{}.FakeHash()),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Accounts{}
			if tt.algorithm != "" {
				a.HashRaw = hashJSON(tt.algorithm)
			}
			for i, h := range tt.hashes {
				a.AccountList = append(a.AccountList, Account{Username: string(rune('a' + i)), Password: h})
			}
			if err := provision(t, a); err != nil {
				t.Fatalf("Provision: %v", err)
			}
			algorithm := tt.algorithm
			if algorithm == "" {
				algorithm = "bcrypt"
			}
			if tt.wantFake != "" && string(a.fake) != tt.wantFake {
				t.Errorf("fake hash = %q, want %q", a.fake, tt.wantFake)
			}
			if tt.wantCost != "" {
				if got := costOf(algorithm, string(a.fake)); got != tt.wantCost {
					t.Errorf("cost of the fake hash = %q, want %q", got, tt.wantCost)
				}
			}
			for _, h := range tt.hashes {
				if tt.wantFake == "" && string(a.fake) == h {
					t.Errorf("the fake hash is an account's hash")
				}
			}
			// A made fake hash must be one the comparer accepts without
			// error, or the unknown-user path would do less work than a real
			// check. (Caddy's own FakeHash is skipped: at cost 14 it is slow.)
			if tt.wantFake != "" {
				return
			}
			if _, err := a.comparer.Compare(a.fake, []byte("x")); err != nil {
				t.Errorf("comparing with the fake hash: %v", err)
			}
		})
	}
}

// TestLoadModuleJSON loads the module the way the POP3 handler does: by ID,
// from the JSON a user writes.
func TestLoadModuleJSON(t *testing.T) {
	hash := bcryptHash(t, "wonderland")
	cfg := `{"hash":{"algorithm":"bcrypt"},"accounts":[{"username":"alice","password":"` + hash + `"}]}`
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	mod, err := ctx.LoadModuleByID("pop3.auth.accounts", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("LoadModuleByID: %v", err)
	}
	a, ok := mod.(auth.Authenticator)
	if !ok {
		t.Fatalf("%T is not an auth.Authenticator", mod)
	}
	if ok, err := a.Authenticate(context.Background(), "alice", "wonderland"); !ok || err != nil {
		t.Fatalf("Authenticate = %v, %v; want true, nil", ok, err)
	}
}
