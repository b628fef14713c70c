package lmtp

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/mholt/caddy-l4/layer4" // the layer4 app

	_ "github.com/caddy-pop3/caddy-pop3/modules/storage/maildir" // the storage of the test config
)

// testUsers is the pop3.auth.lmtp_test_users module: an authenticator that
// knows the users listed in its config and can say so (UserLookup).
type testUsers struct {
	Users []string `json:"users,omitempty"`
}

func (testUsers) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "pop3.auth.lmtp_test_users", New: func() caddy.Module { return new(testUsers) }}
}

func (u *testUsers) Authenticate(context.Context, string, string) (bool, error) { return false, nil }

func (u *testUsers) UserExists(_ context.Context, user string) (bool, error) {
	for _, n := range u.Users {
		if n == user {
			return true, nil
		}
	}
	return false, nil
}

func init() { caddy.RegisterModule(testUsers{}) }

// TestAuthUserLookup loads a whole config with Caddy (provisioning the
// handler with its auth and storage modules) and checks that RCPT refuses
// users the authenticator does not know, and that the known ones get their
// message in their maildir.
func TestAuthUserLookup(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	mail := t.TempDir()
	cfg := map[string]any{
		"admin": map[string]any{"disabled": true},
		"apps": map[string]any{"layer4": map[string]any{"servers": map[string]any{"lmtp": map[string]any{
			"listen": []string{addr},
			"routes": []any{map[string]any{"handle": []any{map[string]any{
				"handler":      "lmtp",
				"storage":      map[string]any{"module": "maildir", "path": mail + "/{pop3.user}/Maildir"},
				"auth":         map[string]any{"module": "lmtp_test_users", "users": []string{"alice"}},
				"strip_domain": true,
			}}}},
		}}}},
	}
	raw, _ := json.Marshal(cfg)
	if err := caddy.Load(raw, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })

	cl := dial(t, addr)
	cl.greet()
	expect(t, "MAIL", cl.cmd("MAIL FROM:<s@x.test>"), "250 ")
	expect(t, "RCPT unknown", cl.cmd("RCPT TO:<mallory@example.com>"), "550 5.1.1")
	expect(t, "RCPT known", cl.cmd("RCPT TO:<alice@example.com>"), "250 ")
	expect(t, "DATA", cl.cmd("DATA"), "354 ")
	cl.send(testMessage + ".\r\n")
	expect(t, "reply", cl.reply(), "250 2.0.0 <alice@example.com>")
	expect(t, "QUIT", cl.cmd("QUIT"), "221 ")

	for user, want := range map[string]int{"alice": 1, "mallory": 0} {
		files, _ := filepath.Glob(filepath.Join(mail, user, "Maildir", "new", "*"))
		if len(files) != want {
			t.Errorf("%s has %d messages, want %d", user, len(files), want)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if wantMsg := traceHeaders("s@x.test", "alice@example.com") + "Message-ID: <1@test>\r\nSubject: hi\r\n\r\nbody\r\n.dot-stuffed\r\n"; string(b) != wantMsg {
				t.Errorf("stored %q, want %q", b, wantMsg)
			}
		}
	}
}
