package auth

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"testing"
)

// passwords is an authenticator over a map.
type passwords map[string]string

func (p passwords) Authenticate(_ context.Context, user, password string) (bool, error) {
	pw, ok := p[user]
	return ok && pw == password, nil
}

// secrets is an authenticator that can also look up plain-text secrets.
type secrets struct{ passwords }

func (s secrets) PlainSecret(_ context.Context, user string) (string, bool, error) {
	pw, ok := s.passwords[user]
	return pw, ok, nil
}

func TestTable(t *testing.T) {
	tests := []struct {
		name            string
		plaintext, sasl bool
	}{
		{"user", true, false},
		{"APOP", false, false},
		{"plain", true, true},
		{"Login", true, true},
	}
	for _, tt := range tests {
		m, ok := LookupMechanism(tt.name)
		if !ok {
			t.Fatalf("LookupMechanism(%q) found nothing", tt.name)
		}
		if m.Plaintext != tt.plaintext || m.SASL != tt.sasl || (m.NewServer != nil) != tt.sasl {
			t.Errorf("%s: plaintext %v sasl %v server %v; want plaintext %v sasl %v", m.Name, m.Plaintext, m.SASL, m.NewServer != nil, tt.plaintext, tt.sasl)
		}
	}
	if _, ok := LookupMechanism("CRAM-MD5"); ok || KnownMechanism("CRAM-MD5") {
		t.Error("CRAM-MD5 is in the table")
	}
	var names []string
	for _, m := range SASLMechanisms() {
		names = append(names, m.Name)
	}
	if len(names) != 2 || names[0] != MechanismPlain || names[1] != MechanismLogin {
		t.Errorf("SASL() = %v, want [PLAIN LOGIN] in that order", names)
	}
}

func TestBackedMechanisms(t *testing.T) {
	all := []Mechanism{}
	for _, n := range []string{MechanismUser, MechanismAPOP, MechanismPlain} {
		m, _ := LookupMechanism(n)
		all = append(all, m)
	}
	count := func(ms []Mechanism) int { return len(ms) }
	if got := count(BackedMechanisms(passwords{}, all)); got != 2 {
		t.Errorf("a password-only authenticator backs %d of USER, APOP, PLAIN; want 2 (not APOP)", got)
	}
	if got := count(BackedMechanisms(secrets{passwords{}}, all)); got != 3 {
		t.Errorf("an authenticator with secrets backs %d; want 3", got)
	}
}

func TestPlainExchange(t *testing.T) {
	a := passwords{"alice": "secret pw"}
	tests := []struct {
		name     string
		response string
		wantErr  error
		wantOK   bool
	}{
		{"right", "\x00alice\x00secret pw", nil, true},
		{"own authzid", "alice\x00alice\x00secret pw", nil, true},
		{"wrong password", "\x00alice\x00nope", nil, false},
		{"other authzid", "bob\x00alice\x00secret pw", ErrAuthzid, false},
	}
	m, _ := LookupMechanism(MechanismPlain)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Login
			srv := m.NewServer(a, func(l Login) error { got = l; return nil })
			_, done, err := srv.Next([]byte(tt.response))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Next: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !done || got.User != "alice" {
				t.Fatalf("done %v, user %q", done, got.User)
			}
			ok, err := got.Check(context.Background())
			if err != nil || ok != tt.wantOK {
				t.Errorf("Check = %v, %v; want %v", ok, err, tt.wantOK)
			}
		})
	}
}

func TestAPOPLogin(t *testing.T) {
	s := secrets{passwords{"alice": "tanstaaf"}}
	stamp := "<1896.697170952@dbc.mtview.ca.us>" // RFC 1939's example
	sum := md5.Sum([]byte(stamp + "tanstaaf"))
	digest := hex.EncodeToString(sum[:])
	if digest != "c4c9334bac560ecc979e58001b3e22fb" {
		t.Fatalf("RFC 1939 example digest: %s", digest)
	}
	tests := []struct {
		user, digest string
		want         bool
	}{
		{"alice", digest, true},
		{"alice", "C4C9334BAC560ECC979E58001B3E22FB", true}, // hex case does not matter
		{"alice", "00" + digest[2:], false},
		{"bob", digest, false}, // unknown user
	}
	for _, tt := range tests {
		ok, err := APOPLogin(s, stamp, tt.user, tt.digest).Check(context.Background())
		if err != nil || ok != tt.want {
			t.Errorf("APOP %s %s = %v, %v; want %v", tt.user, tt.digest, ok, err, tt.want)
		}
	}
}
