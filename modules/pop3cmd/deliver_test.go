package pop3cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	// The Caddyfile adapter, caddy-l4 and the pop3 modules, as in a
	// Caddy binary.
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/mholt/caddy-l4"

	_ "github.com/caddy-pop3/caddy-pop3/modules/auth/accounts"
	_ "github.com/caddy-pop3/caddy-pop3/modules/pop3"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	_ "github.com/caddy-pop3/caddy-pop3/modules/storage/maildir"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/mbox"
)

// writeCaddyfile writes a Caddyfile whose pop3 handler keeps mail in dir
// with the given storage module, and returns its path.
func writeCaddyfile(t *testing.T, dir, module string) string {
	t.Helper()
	path := "{pop3.user}"
	if module == "maildir" {
		path = "{pop3.user}/Maildir"
	}
	text := `{
	layer4 {
		127.0.0.1:0 {
			route {
				pop3 {
					storage ` + module + ` ` + filepath.Join(dir, path) + `
					auth accounts bcrypt {
						alice $2a$04$4zo4yVjRV6W7RT3ELr3nWO1/CYL2Xn9x9I6dw8Q9.CEBpkLDGCjba
					}
				}
			}
		}
	}
}
`
	p := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeliverMbox(t *testing.T) {
	dir := t.TempDir()
	config := writeCaddyfile(t, dir, "mbox")
	in := "From bounce@example.org  Tue Jan  2 03:04:05 2024\nSubject: hi\n\nFrom the start\n"
	code, err := deliver(context.Background(), deliverOptions{Config: config, User: "alice"}, strings.NewReader(in))
	if code != ExitOK || err != nil {
		t.Fatalf("deliver: %d, %v", code, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), "From bounce@example.org ") {
		t.Errorf("the spool does not start with the envelope sender's From_ line: %q", raw)
	}
	if !strings.HasSuffix(string(raw), "\nSubject: hi\n\n>From the start\n\n") {
		t.Errorf("the spool does not end with the quoted message: %q", raw)
	}
}

func TestDeliverMaildir(t *testing.T) {
	dir := t.TempDir()
	config := writeCaddyfile(t, dir, "maildir")
	msg := "Subject: hi\r\n\r\nbody"
	code, err := deliver(context.Background(), deliverOptions{Config: config, User: "alice"}, strings.NewReader(msg))
	if code != ExitOK || err != nil {
		t.Fatalf("deliver: %d, %v", code, err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "alice", "Maildir", "new"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("new/ holds %v (%v)", entries, err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "alice", "Maildir", "new", entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Errorf("delivered %q, want %q", got, msg)
	}
}

func TestDeliverExitCodes(t *testing.T) {
	dir := t.TempDir()
	mboxConfig := writeCaddyfile(t, t.TempDir(), "mbox")
	lockedDir := filepath.Dir(mboxConfig)
	if err := os.WriteFile(filepath.Join(lockedDir, "bob.lock"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	json := filepath.Join(dir, "caddy.json")
	if err := os.WriteFile(json, []byte(`{"apps":{"layer4":{"servers":{"srv0":{"routes":[{"handle":[{"handler":"pop3","storage":{"module":"mbox","path":"`+dir+`/{pop3.user}","lock_timeout":"10ms"}}]}]}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "carol.lock"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badStorage := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badStorage, []byte(`{"apps":{"layer4":{"servers":{"srv0":{"routes":[{"handle":[{"handler":"pop3","storage":{"module":"nosuch"}}]}]}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	notJSON := filepath.Join(dir, "config")
	if err := os.WriteFile(notJSON, []byte("layer4 {"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		opts  deliverOptions
		stdin string
		code  int
	}{
		{"ok", deliverOptions{Config: json, User: "alice"}, "x\n", ExitOK},
		{"no config flag", deliverOptions{User: "alice"}, "x\n", ExitUsage},
		{"no user flag", deliverOptions{Config: json}, "x\n", ExitUsage},
		{"empty message", deliverOptions{Config: json, User: "alice"}, "", ExitDataErr},
		{"only a From_ line", deliverOptions{Config: json, User: "alice"}, "From a Mon Jan  1 00:00:00 2024\n", ExitDataErr},
		{"invalid user", deliverOptions{Config: json, User: "../etc"}, "x\n", ExitNoUser},
		{"user named like a lock", deliverOptions{Config: json, User: "x.lock"}, "x\n", ExitNoUser},
		{"locked mailbox", deliverOptions{Config: json, User: "carol"}, "x\n", ExitTempFail},
		{"missing config", deliverOptions{Config: filepath.Join(dir, "nope"), User: "alice"}, "x\n", ExitConfigError},
		{"not JSON", deliverOptions{Config: notJSON, User: "alice"}, "x\n", ExitConfigError},
		{"unknown adapter", deliverOptions{Config: json, Adapter: "yaml", User: "alice"}, "x\n", ExitConfigError},
		{"unknown storage module", deliverOptions{Config: badStorage, User: "alice"}, "x\n", ExitConfigError},
		{"unknown server", deliverOptions{Config: json, Server: "srv9", User: "alice"}, "x\n", ExitConfigError},
		{"adapter flag", deliverOptions{Config: mboxConfig, Adapter: "caddyfile", User: "alice"}, "x\n", ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := deliver(context.Background(), tt.opts, strings.NewReader(tt.stdin))
			if code != tt.code {
				t.Fatalf("exit code %d (%v), want %d", code, err, tt.code)
			}
			if (err == nil) != (code == ExitOK) {
				t.Errorf("exit code %d with error %v", code, err)
			}
		})
	}

	code, err := deliver(context.Background(), deliverOptions{Config: json, User: "alice"}, iotest.ErrReader(errors.New("broken pipe")))
	if code != ExitIOErr {
		t.Errorf("unreadable stdin: exit code %d (%v), want %d", code, err, ExitIOErr)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{fmt.Errorf("delivering: %w", storage.ErrInvalidUser), ExitNoUser},
		{&fs.PathError{Op: "open", Path: "/var/mail/x", Err: fs.ErrPermission}, ExitCantCreat},
		{fmt.Errorf("x: %w", mbox.ErrLockTimeout), ExitTempFail},
		{errors.New("disk full"), ExitTempFail},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.code {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.code)
		}
	}
}
