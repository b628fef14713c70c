//go:build linux

package e2e

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// curlExitLoginDenied is curl's exit code for a refused login.
const curlExitLoginDenied = 67

// curlRun runs curl with the given arguments and fails the test unless it
// exits with status 0.
func curlRun(t *testing.T, curl string, args ...string) string {
	t.Helper()
	full := append([]string{"--silent", "--show-error", "--max-time", "30"}, args...)
	out, errOut, code := runCommand(t, "", nil, curl, full...)
	if code != 0 {
		t.Fatalf("curl %q: exit %d\nstderr:\n%s", args, code, errOut)
	}
	return out
}

// pop3URL returns a pop3:// URL with credentials for the server.
func pop3URL(s *server, user, password, path string) string {
	u := url.URL{Scheme: "pop3", User: url.UserPassword(user, password), Host: s.Addr, Path: "/" + path}
	return u.String()
}

// parseScanListing parses a LIST or UIDL body as curl prints it ("n value"
// lines with CRLF) into a map from message number to value.
func parseScanListing(t *testing.T, body string) map[string]string {
	t.Helper()
	if body != "" && !strings.HasSuffix(body, "\r\n") {
		t.Fatalf("listing %q does not end with CRLF", body)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n") {
		if line == "" {
			continue
		}
		n, v, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("listing line %q is not \"n value\"", line)
		}
		if _, dup := out[n]; dup {
			t.Fatalf("listing has message %s twice: %q", n, body)
		}
		out[n] = v
	}
	return out
}

func TestCurlRetrieveAndDelete(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)
	root := pop3URL(s, testUser, testPassword, "")

	sizes := parseScanListing(t, curlRun(t, curl, root))
	uids := parseScanListing(t, curlRun(t, curl, "--request", "UIDL", root))
	if len(sizes) != len(fixture) || len(uids) != len(fixture) {
		t.Fatalf("LIST %v and UIDL %v: want %d messages each", sizes, uids, len(fixture))
	}
	for n, uid := range uids {
		m := fixtureByUID(t, uid)
		if want := strconv.Itoa(m.Size()); sizes[n] != want {
			t.Errorf("LIST size of message %s (%s): got %s, want %s", n, uid, sizes[n], want)
		}
		// curl removes the dot-stuffing and the terminating line and
		// prints the CRLF line endings as they came.
		if got := curlRun(t, curl, root+n); got != m.Wire() {
			t.Errorf("RETR %s (%s):\n got: %q\nwant: %q", n, uid, got, m.Wire())
		}
	}
	// Retrieving keeps the mail on the server.
	assertUIDsOnDisk(t, maildir, fixtureUIDs())

	// A custom DELE command; curl ends the session with QUIT, so the
	// message goes.
	curlRun(t, curl, "--request", "DELE 1", "--head", root)
	assertUIDsOnDisk(t, maildir, without(fixtureUIDs(), uids["1"]))

	after := parseScanListing(t, curlRun(t, curl, "--request", "UIDL", root))
	if len(after) != len(fixture)-1 {
		t.Errorf("UIDL after DELE: got %v, want %d messages", after, len(fixture)-1)
	}
	for _, uid := range after {
		if uid == uids["1"] {
			t.Errorf("UIDL after DELE still lists the deleted message %s", uid)
		}
	}
}

func TestCurlWrongPassword(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	_, errOut, code := runCommand(t, "", nil, curl, "--verbose", "--max-time", "30",
		pop3URL(s, testUser, "not-"+testPassword, ""))
	if code != curlExitLoginDenied {
		t.Errorf("curl exit code: got %d, want %d (login denied)\n%s", code, curlExitLoginDenied, errOut)
	}
	if !strings.Contains(errOut, "-ERR [AUTH]") {
		t.Errorf("curl did not see a -ERR [AUTH] reply:\n%s", errOut)
	}
	assertUIDsOnDisk(t, maildir, fixtureUIDs())
}

func TestCurlSASL(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	for _, mechanism := range []string{"PLAIN", "LOGIN"} {
		// --login-options AUTH=<mechanism> makes curl log in with AUTH
		// (RFC 5034) and that mechanism only, never USER/PASS.
		login := "AUTH=" + mechanism
		uids := parseScanListing(t, curlRun(t, curl, "--login-options", login, "--request", "UIDL", pop3URL(s, testUser, testPassword, "")))
		m := fixtureByUID(t, uids["1"])
		got, errOut, code := runCommand(t, "", nil, curl, "--verbose", "--max-time", "30", "--login-options", login,
			pop3URL(s, testUser, testPassword, "1"))
		if code != 0 {
			t.Fatalf("AUTH %s: curl exit %d\n%s", mechanism, code, errOut)
		}
		if !strings.Contains(errOut, "> AUTH "+mechanism) {
			t.Errorf("curl did not log in with AUTH %s:\n%s", mechanism, errOut)
		}
		if got != m.Wire() {
			t.Errorf("AUTH %s, RETR 1:\n got: %q\nwant: %q", mechanism, got, m.Wire())
		}

		_, errOut, code = runCommand(t, "", nil, curl, "--verbose", "--max-time", "30", "--login-options", login,
			pop3URL(s, testUser, "not-"+testPassword, ""))
		if code != curlExitLoginDenied {
			t.Errorf("AUTH %s with a wrong password: curl exit %d, want %d\n%s", mechanism, code, curlExitLoginDenied, errOut)
		}
		if !strings.Contains(errOut, "-ERR [AUTH]") {
			t.Errorf("AUTH %s with a wrong password: no -ERR [AUTH] reply:\n%s", mechanism, errOut)
		}
	}
	assertUIDsOnDisk(t, maildir, fixtureUIDs())
}
