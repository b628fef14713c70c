//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// mpopConfigTemplate is an mpop account for the test server. mpop refuses
// to send a password in clear text unless told which method to use; "auth
// user" with "tls off" is that. The verbs are the TLS settings, the port,
// the password, the maildir to deliver to, the UIDLs file and the keep
// setting.
const mpopConfigTemplate = `defaults
%s
auth user
timeout 20
received_header off

account default
host 127.0.0.1
port %d
user ` + testUser + `
password %s
delivery maildir %s
uidls_file %s
keep %s
`

// runMpop writes the mpop configuration and runs mpop once. With cert, mpop
// uses implicit TLS and trusts only cert.
func runMpop(t *testing.T, mpop string, s *server, cert *testCert, dir, out, keep string) {
	t.Helper()
	config := filepath.Join(dir, "mpoprc")
	tlsSettings := "tls off"
	if cert != nil {
		tlsSettings = "tls on\ntls_starttls off\ntls_trust_file " + cert.CertFile
	}
	text := fmt.Sprintf(mpopConfigTemplate, tlsSettings, s.Port, testPassword, out, filepath.Join(dir, "uidls"), keep)
	// mpop refuses a configuration file with a password that others can read.
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCommand(t, dir, []string{"HOME=" + dir}, mpop, "--file="+config, "--all-accounts")
	if code != 0 {
		t.Fatalf("mpop (keep %s): exit %d\nstdout:\n%s\nstderr:\n%s", keep, code, stdout, stderr)
	}
}

// makeMaildir creates an empty maildir for a client to deliver to.
func makeMaildir(t *testing.T, dir string) string {
	t.Helper()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// maildirMessages returns the contents of the messages in maildir's new/.
func maildirMessages(t *testing.T, maildir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(maildir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(maildir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestMpopKeepThenDelete(t *testing.T) {
	t.Parallel()
	mpop := requireTool(t, "mpop", "mpop")
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	dir := t.TempDir()
	out := makeMaildir(t, filepath.Join(dir, "Maildir"))

	// keep on: every message is delivered and stays on the server.
	runMpop(t, mpop, s, nil, dir, out, "on")
	assertTextsEqual(t, "mpop delivery", maildirMessages(t, out))
	assertUIDsOnDisk(t, maildir, fixtureUIDs())

	// keep off: mpop knows from its UIDLs file that it has every message
	// already, fetches nothing new and deletes them all on the server.
	runMpop(t, mpop, s, nil, dir, out, "off")
	assertTextsEqual(t, "mpop delivery after the second run", maildirMessages(t, out))
	assertUIDsOnDisk(t, maildir, nil)
}
