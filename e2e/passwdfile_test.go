//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPasswdFileDoveadm logs in with accounts whose hashes come from
// Dovecot's own `doveadm pw`, one user per scheme, through a passwd-file in
// Dovecot's format.
func TestPasswdFileDoveadm(t *testing.T) {
	t.Parallel()
	doveadm := requireTool(t, "doveadm", "dovecot-core")
	users := []struct {
		name, password string
		args           []string // doveadm pw arguments
	}{
		{name: "alice", password: "sha512 secret", args: []string{"-s", "SHA512-CRYPT"}},
		{name: "bob", password: "blowfish", args: []string{"-s", "BLF-CRYPT", "-r", "5"}},
		{name: "carol", password: "argon2id", args: []string{"-s", "ARGON2ID"}},
		{name: "dave@example.org", password: "plain text", args: []string{"-s", "PLAIN"}},
	}
	var file strings.Builder
	file.WriteString("# made by doveadm pw\n")
	for _, u := range users {
		out, stderr, code := runCommand(t, "", nil, doveadm, append([]string{"pw", "-p", u.password}, u.args...)...)
		if code != 0 {
			t.Fatalf("doveadm pw %q: exit %d\n%s", u.args, code, stderr)
		}
		// user:password:uid:gid:gecos:home:shell:extra_fields
		file.WriteString(u.name + ":" + strings.TrimSpace(out) + "::::::\n")
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, serverOptions{auth: "auth passwd_file " + path})
	for _, u := range users {
		c := dialPOP3(t, s.Addr)
		if r := c.LoginReply(u.name, "wrong "+u.password); !strings.HasPrefix(r, "-ERR [AUTH]") {
			t.Errorf("%s with a wrong password: got %q, want -ERR [AUTH] ...", u.name, r)
		}
		c = dialPOP3(t, s.Addr)
		if r := c.LoginReply(u.name, u.password); !strings.HasPrefix(r, "+OK") {
			t.Errorf("%s (%s): got %q, want +OK", u.name, u.args[1], r)
			continue
		}
		if r := c.Cmd("STAT"); r != "+OK 0 0" {
			t.Errorf("%s: STAT of an empty maildrop: got %q, want \"+OK 0 0\"", u.name, r)
		}
		if r := c.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
			t.Errorf("%s: QUIT: %q", u.name, r)
		}
	}
}
