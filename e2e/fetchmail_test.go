//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fetchmailExitNoMail is fetchmail's exit code when there was no mail.
const fetchmailExitNoMail = 1

// fetchmailRCTemplate is a fetchmail run control file for the test server;
// the verbs are the port, the password and the TLS options. No Received
// header (invisible), no address rewriting.
const fetchmailRCTemplate = `set no syslog
set invisible
poll 127.0.0.1 protocol pop3 service %d auth password timeout 20
	user "` + testUser + `" password "%s"
	%s no rewrite
`

// fetchmailNoTLS turns off fetchmail's opportunistic STLS.
const fetchmailNoTLS = "sslproto ''"

// runFetchmail runs fetchmail once with the given extra options, delivering
// each message into its own file in out, and returns its exit code. With
// cert, fetchmail uses implicit TLS and checks the server's certificate
// against cert.
func runFetchmail(t *testing.T, fetchmail string, s *server, cert *testCert, dir, out string, options ...string) int {
	t.Helper()
	rc := filepath.Join(dir, "fetchmailrc")
	tlsOptions := fetchmailNoTLS
	if cert != nil {
		tlsOptions = fmt.Sprintf("ssl sslcertck sslcertfile %q", cert.CertFile)
	}
	// fetchmail refuses a run control file that others can read.
	if err := os.WriteFile(rc, []byte(fmt.Sprintf(fetchmailRCTemplate, s.Port, testPassword, tlsOptions)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	mda := fmt.Sprintf(`f=$(mktemp %s/msg.XXXXXXXX) && cat > "$f"`, out)
	args := append([]string{
		"--fetchmailrc", rc,
		"--idfile", filepath.Join(dir, "fetchids"),
		"--pidfile", filepath.Join(dir, "fetchmail.pid"),
		"--nodetach", "--nosyslog", "--verbose",
		"--mda", mda,
	}, options...)
	stdout, stderr, code := runCommand(t, dir, []string{"HOME=" + dir, "FETCHMAILHOME=" + dir}, fetchmail, args...)
	t.Logf("fetchmail %q: exit %d\nstdout:\n%s\nstderr:\n%s", options, code, stdout, stderr)
	return code
}

// dirMessages returns the contents of every file in dir.
func dirMessages(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestFetchmailKeepThenDelete(t *testing.T) {
	t.Parallel()
	fetchmail := requireTool(t, "fetchmail", "fetchmail")
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)
	dir := t.TempDir()

	// --keep: every message is delivered and stays on the server.
	first := filepath.Join(dir, "first")
	if code := runFetchmail(t, fetchmail, s, nil, dir, first, "--keep"); code != 0 {
		t.Fatalf("fetchmail --keep: exit %d, want 0", code)
	}
	assertTextsEqual(t, "fetchmail --keep delivery", dirMessages(t, first))
	assertUIDsOnDisk(t, maildir, fixtureUIDs())

	// --keep again: fetchmail's idfile (kept from the UIDLs) says every
	// message is old, so nothing is fetched.
	again := filepath.Join(dir, "again")
	if code := runFetchmail(t, fetchmail, s, nil, dir, again, "--keep"); code != fetchmailExitNoMail {
		t.Errorf("second fetchmail --keep: exit %d, want %d (no new mail)", code, fetchmailExitNoMail)
	}
	if msgs := dirMessages(t, again); len(msgs) != 0 {
		t.Errorf("second fetchmail --keep delivered %d messages, want 0", len(msgs))
	}
	assertUIDsOnDisk(t, maildir, fixtureUIDs())

	// --nokeep --all: everything is fetched again and deleted on QUIT.
	last := filepath.Join(dir, "last")
	if code := runFetchmail(t, fetchmail, s, nil, dir, last, "--nokeep", "--all"); code != 0 {
		t.Fatalf("fetchmail --nokeep --all: exit %d, want 0", code)
	}
	assertTextsEqual(t, "fetchmail --nokeep delivery", dirMessages(t, last))
	assertUIDsOnDisk(t, maildir, nil)
}
