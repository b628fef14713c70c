package sql

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-pop3/caddy-pop3/internal/pgpool"
	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Exit(m) }

// caddyArgon2id makes a hash in the format of `caddy hash-password
// --algorithm argon2id`.
func caddyArgon2id(password string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(password), salt, 1, 8*1024, 1, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, 8*1024, 1, 1,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// sha512Secret is SHA512-CRYPT of "secret" (glibc crypt(3)).
const sha512Secret = "$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1"

// newSQL returns a provisioned authenticator on a fresh database with a
// users table.
func newSQL(t *testing.T, rows map[string]*string) (*SQL, string) {
	t.Helper()
	dsn := pgtest.DSN(t)
	s := &SQL{DSN: dsn}
	if err := s.setup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Cleanup() })
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `CREATE TABLE users (username text PRIMARY KEY, password text)`); err != nil {
		t.Fatal(err)
	}
	for user, pw := range rows {
		if _, err := s.pool.Exec(ctx, `INSERT INTO users VALUES ($1, $2)`, user, pw); err != nil {
			t.Fatal(err)
		}
	}
	return s, dsn
}

func ptr(s string) *string { return &s }

func TestAuthenticate(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("bcrypt pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newSQL(t, map[string]*string{
		"caddy-bcrypt":     ptr(string(bc)),
		"dovecot-bcrypt":   ptr("{BLF-CRYPT}" + string(bc)),
		"caddy-argon2id":   ptr(caddyArgon2id("argon pw")),
		"dovecot-argon2":   ptr("{ARGON2ID}" + caddyArgon2id("argon pw")),
		"sha512":           ptr("{SHA512-CRYPT}" + sha512Secret),
		"bare-sha512":      ptr(sha512Secret),
		"plain":            ptr("{PLAIN}plain pw"),
		"disabled":         nil,
		"bad-hash":         ptr("{SHA512-CRYPT}$6$garbage"),
		"unknown-scheme":   ptr("{NOPE}x"),
		"Case@Example.Com": ptr("{PLAIN}case"),
	})
	tests := []struct {
		user, password string
		want           bool
	}{
		{"caddy-bcrypt", "bcrypt pw", true},
		{"caddy-bcrypt", "wrong", false},
		{"dovecot-bcrypt", "bcrypt pw", true},
		{"caddy-argon2id", "argon pw", true},
		{"caddy-argon2id", "argon", false},
		{"dovecot-argon2", "argon pw", true},
		{"sha512", "secret", true},
		{"sha512", "Secret", false},
		{"bare-sha512", "secret", true},
		{"plain", "plain pw", true},
		{"plain", "plain", false},
		{"disabled", "", false},
		{"bad-hash", "x", false},
		{"unknown-scheme", "x", false},
		{"nobody", "secret", false},
		{"case@example.com", "case", false}, // user names are exact
		{"Case@Example.Com", "case", true},
		{"'; DROP TABLE users; --", "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.password, func(t *testing.T) {
			got, err := s.Authenticate(context.Background(), tt.user, tt.password)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if got != tt.want {
				t.Errorf("Authenticate(%q, %q) = %v, want %v", tt.user, tt.password, got, tt.want)
			}
		})
	}
	secret, ok, err := s.PlainSecret(context.Background(), "plain")
	if err != nil || !ok || secret != "plain pw" {
		t.Errorf("PlainSecret(plain) = %q, %v, %v", secret, ok, err)
	}
	if _, ok, err := s.PlainSecret(context.Background(), "caddy-bcrypt"); ok || err != nil {
		t.Errorf("PlainSecret of a hashed user: ok %v, err %v", ok, err)
	}
}

// TestUnknownUserDummy checks that an unknown user is checked against a
// hash of the cost most users have, not a cheap one.
func TestUnknownUserDummy(t *testing.T) {
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	s, _ := newSQL(t, map[string]*string{
		"a": ptr(string(bc)), "b": ptr(string(bc)), "p": ptr("{PLAIN}pw"),
	})
	for _, u := range []string{"a", "b", "p", "p", "p"} {
		if _, err := s.Authenticate(context.Background(), u, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.dummy.hash().Scheme(); got != "CRYPT" {
		t.Errorf("unknown users are checked against a %s hash, want the bcrypt (CRYPT) most users have", got)
	}
}

// TestMultipleRows checks that a query returning several rows for a user
// is an error, not a guess.
func TestMultipleRows(t *testing.T) {
	s, dsn := newSQL(t, nil)
	if _, err := s.pool.Exec(context.Background(), `CREATE TABLE dup (u text, p text); INSERT INTO dup VALUES ('x', '{PLAIN}a'), ('x', '{PLAIN}b')`); err != nil {
		t.Fatal(err)
	}
	d := &SQL{DSN: dsn, Query: "SELECT p FROM dup WHERE u = $1"}
	if err := d.setup(); err != nil {
		t.Fatal(err)
	}
	defer d.Cleanup()
	if ok, err := d.Authenticate(context.Background(), "x", "a"); err == nil {
		t.Errorf("two rows for one user: %v, nil; want an error", ok)
	}
}

// TestDatabaseDown checks that a database that cannot be reached is an
// error (-ERR [SYS/TEMP]), never a wrong password.
func TestDatabaseDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &SQL{DSN: "postgres://pop3:hunter2@" + addr + "/mail?sslmode=disable", Timeout: caddy.Duration(time.Second)}
	if err := s.setup(); err != nil {
		t.Fatal(err)
	}
	defer s.Cleanup()
	ok, err := s.Authenticate(context.Background(), "alice", "pw")
	if err == nil {
		t.Fatalf("Authenticate with the database down = %v, nil; want an error", ok)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the DSN's password: %v", err)
	}
}

// TestSharedPool checks that modules with the same DSN share one pool.
func TestSharedPool(t *testing.T) {
	s, dsn := newSQL(t, nil)
	p, err := pgpool.Acquire(dsn, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pgpool.Release(dsn)
	if p != s.pool {
		t.Error("a second user of the same DSN got a pool of its own")
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    SQL
	}{
		{"no dsn", SQL{}},
		{"no $1", SQL{DSN: "postgres://x@127.0.0.1/db", Query: "SELECT password FROM users"}},
		{"bad dsn", SQL{DSN: "postgres://x:secret@127.0.0.1:notaport/db"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.setup()
			if err == nil {
				tt.s.Cleanup()
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestDatabaseHung checks that a database that never answers makes
// Authenticate fail after the timeout (the watchdog only catches a hang).
func TestDatabaseHung(t *testing.T) {
	addr := pgtest.SilentServer(t)
	s := &SQL{DSN: "postgres://pop3@" + addr + "/mail?sslmode=disable", Timeout: caddy.Duration(500 * time.Millisecond)}
	if err := s.setup(); err != nil {
		t.Fatal(err)
	}
	defer s.Cleanup()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Authenticate(context.Background(), "alice", "pw")
		errc <- err
	}()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Authenticate with a hung database gave an answer, want an error")
		}
	case <-time.After(time.Minute):
		t.Fatal("Authenticate with a hung database did not return")
	}
}
