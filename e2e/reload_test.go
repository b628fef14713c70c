//go:build linux

package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// reload rewrites the server's Caddyfile with another host name and loads
// it with `caddy reload` through the admin API.
func (s *server) reload(t *testing.T, hostname string) {
	t.Helper()
	if err := os.WriteFile(s.config, []byte(s.caddyfile(hostname)), 0o600); err != nil {
		t.Fatal(err)
	}
	caddyRun(t, "reload", "--config", s.config, "--adapter", "caddyfile",
		"--address", "127.0.0.1:"+strconv.Itoa(s.adminPort))
}

func TestReloadKeepsSessionsAndLocks(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	old := dialPOP3(t, s.Addr)
	if !strings.Contains(old.Greeting(), testHostname) {
		t.Errorf("greeting %q does not name %s", old.Greeting(), testHostname)
	}
	if r := old.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login: %q", r)
	}
	uid := strings.Fields(old.Cmd("UIDL 1"))
	if len(uid) != 3 || uid[0] != "+OK" {
		t.Fatalf("UIDL 1: %q", uid)
	}
	if r := old.Cmd("DELE 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("DELE 1: %q", r)
	}

	const reloaded = "reloaded.example"
	s.reload(t, reloaded)

	// New connections get the new config...
	fresh := dialPOP3(t, s.Addr)
	if !strings.Contains(fresh.Greeting(), reloaded) {
		t.Errorf("greeting after reload %q does not name %s", fresh.Greeting(), reloaded)
	}
	// ...but the maildrop lock of the session that began under the old
	// config still holds.
	if r := fresh.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "-ERR [IN-USE]") {
		t.Errorf("login while the old session holds the maildrop: got %q, want -ERR [IN-USE] ...", r)
	}
	if r := fresh.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Errorf("QUIT: %q", r)
	}

	// The old session goes on under the old config, and its QUIT deletes.
	if r, want := old.Cmd("STAT"), "+OK "+strconv.Itoa(len(fixture)-1)+" "; !strings.HasPrefix(r, want) {
		t.Errorf("STAT after reload in the old session: got %q, want %q...", r, want)
	}
	if r := old.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT of the old session: %q", r)
	}
	assertUIDsOnDisk(t, maildir, without(fixtureUIDs(), uid[2]))

	after := dialPOP3(t, s.Addr)
	if r := after.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login after the old session quit: %q", r)
	}
	if r, want := after.Cmd("STAT"), "+OK "+strconv.Itoa(len(fixture)-1)+" "; !strings.HasPrefix(r, want) {
		t.Errorf("STAT in a new session: got %q, want %q...", r, want)
	}
	after.Cmd("QUIT")
}
