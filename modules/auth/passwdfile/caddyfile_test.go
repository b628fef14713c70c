package passwdfile

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    string // the module's JSON
		wantErr string // a part of the error
	}{
		{"argument", "passwd_file /etc/mail/users", `{"path":"/etc/mail/users"}`, ""},
		{"block", "passwd_file {\n path /etc/mail/users\n}", `{"path":"/etc/mail/users"}`, ""},
		{"placeholder", "passwd_file {env.USERS}", `{"path":"{env.USERS}"}`, ""},
		{"scheme after", "passwd_file /etc/mail/users scheme=plain", `{"path":"/etc/mail/users","default_scheme":"PLAIN"}`, ""},
		{"scheme first, as in Dovecot", "passwd_file scheme=SHA512-CRYPT /etc/mail/%d/passwd", `{"path":"/etc/mail/%d/passwd","default_scheme":"SHA512-CRYPT"}`, ""},
		{"block scheme", "passwd_file {\n path /etc/mail/%{domain}/passwd\n scheme PLAIN.B64\n}", `{"path":"/etc/mail/%{domain}/passwd","default_scheme":"PLAIN.B64"}`, ""},
		{"unknown scheme", "passwd_file /a scheme=NOPE", "", `passwd_file: scheme: unknown scheme "NOPE"`},
		{"unsupported scheme", "passwd_file {\n path /a\n scheme SSHA\n}", "", `passwd_file: scheme: scheme "SSHA" is not supported`},
		{"empty scheme", "passwd_file /a scheme=", "", `passwd_file: scheme: unknown scheme ""`},
		{"scheme twice", "passwd_file /a scheme=PLAIN {\n scheme CRYPT\n}", "", "passwd_file: scheme given twice"},
		{"scheme without value", "passwd_file {\n path /a\n scheme\n}", "", "passwd_file: scheme: missing scheme name"},
		{"scheme with two values", "passwd_file {\n path /a\n scheme PLAIN CRYPT\n}", "", `passwd_file: scheme: unexpected argument "CRYPT"`},
		{"username_format", "passwd_file username_format=%n /a", "", `passwd_file: "username_format=%n" is not supported`},
		{"no path", "passwd_file", "", "passwd_file: missing path"},
		{"empty block", "passwd_file {\n}", "", "passwd_file: missing path"},
		{"two arguments", "passwd_file /a /b", "", `passwd_file: unexpected argument "/b"`},
		{"path twice", "passwd_file /a {\n path /b\n}", "", "passwd_file: path given twice"},
		{"path without value", "passwd_file {\n path\n}", "", "passwd_file: path: missing file name"},
		{"path with two values", "passwd_file {\n path /a /b\n}", "", `passwd_file: path: unexpected argument "/b"`},
		{"unknown subdirective", "passwd_file {\n file /a\n}", "", `passwd_file: unknown subdirective "file"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p PasswdFile
			err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			got, err := json.Marshal(&p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("JSON = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestUnmarshalModule parses the module the way the pop3 handler does:
// through caddyfile.UnmarshalModule, from inside the handler's block.
func TestUnmarshalModule(t *testing.T) {
	for _, input := range []string{
		"auth passwd_file /etc/mail/users\nidle_timeout 10m",
		"auth passwd_file {\n path /etc/mail/users\n}\nidle_timeout 10m",
	} {
		d := caddyfile.NewTestDispenser(input)
		d.Next()    // auth
		d.NextArg() // passwd_file
		mod, err := caddyfile.UnmarshalModule(d, "pop3.auth.passwd_file")
		if err != nil {
			t.Fatal(err)
		}
		if p := mod.(*PasswdFile); p.Path != "/etc/mail/users" {
			t.Fatalf("path = %q", p.Path)
		}
		if !d.Next() || d.Val() != "idle_timeout" {
			t.Fatalf("the next directive is %q, want idle_timeout", d.Val())
		}
	}
}
