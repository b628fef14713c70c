package accounts

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	const h1 = "$2a$04$0123456789012345678901uABCDEFGHIJKLMNOPQRSTUVWXYZabcd"
	const h2 = "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$a2V5"
	tests := []struct {
		name    string
		input   string
		want    string // the module's JSON
		wantErr string // a part of the error
	}{
		{
			name: "default algorithm",
			input: `accounts {
				alice ` + h1 + `
				bob@example.com ` + h1 + `
			}`,
			want: `{"accounts":[{"username":"alice","password":"` + h1 + `"},{"username":"bob@example.com","password":"` + h1 + `"}]}`,
		},
		{
			name: "named algorithm",
			input: `accounts argon2id {
				alice ` + h2 + `
			}`,
			want: `{"hash":{"algorithm":"argon2id"},"accounts":[{"username":"alice","password":"` + h2 + `"}]}`,
		},
		{
			name: "unknown algorithm is left to provisioning",
			input: `accounts md5 {
				alice x
			}`,
			want: `{"hash":{"algorithm":"md5"},"accounts":[{"username":"alice","password":"x"}]}`,
		},
		{
			name:    "no block",
			input:   `accounts`,
			wantErr: "accounts: no accounts",
		},
		{
			name:    "empty block",
			input:   "accounts bcrypt {\n}",
			wantErr: "accounts: no accounts",
		},
		{
			name:    "extra argument",
			input:   "accounts bcrypt extra {\n alice " + h1 + "\n}",
			wantErr: `accounts: unexpected argument "extra"`,
		},
		{
			name:    "missing hash",
			input:   "accounts {\n alice\n}",
			wantErr: `accounts: user "alice": missing password hash`,
		},
		{
			name:    "extra argument after the hash",
			input:   "accounts {\n alice " + h1 + " more\n}",
			wantErr: `accounts: user "alice": unexpected argument "more"`,
		},
		{
			name:    "duplicate user",
			input:   "accounts {\n alice " + h1 + "\n bob " + h1 + "\n alice " + h1 + "\n}",
			wantErr: `accounts: duplicate username "alice"`,
		},
		{
			name:    "nested block",
			input:   "accounts {\n alice " + h1 + " {\n x\n }\n}",
			wantErr: `accounts: user "alice": blocks are not supported`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Accounts
			err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			got, err := json.Marshal(&a)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("JSON =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestUnmarshalModule parses the module the way the pop3 handler does:
// through caddyfile.UnmarshalModule, from inside the handler's block.
func TestUnmarshalModule(t *testing.T) {
	const h = "$2a$04$0123456789012345678901uABCDEFGHIJKLMNOPQRSTUVWXYZabcd"
	d := caddyfile.NewTestDispenser("auth accounts {\n alice " + h + "\n}\nidle_timeout 10m")
	d.Next()    // auth
	d.NextArg() // accounts
	mod, err := caddyfile.UnmarshalModule(d, "pop3.auth.accounts")
	if err != nil {
		t.Fatal(err)
	}
	if a := mod.(*Accounts); len(a.AccountList) != 1 || a.AccountList[0].Username != "alice" {
		t.Fatalf("accounts = %+v", a.AccountList)
	}
	if !d.Next() || d.Val() != "idle_timeout" {
		t.Fatalf("the next directive is %q, want idle_timeout", d.Val())
	}
}
