//go:build linux

package e2e

import (
	"path/filepath"
	"strconv"
	"testing"
)

// The tests in this file run real clients against an implicit-TLS (POP3S)
// listener: caddy-l4's tls handler in front of the pop3 handler, configured
// in JSON. Every client verifies the server's certificate.

func TestPOP3SCurl(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	cert := newTestCert(t)
	s := startServer(t, serverOptions{tls: cert})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)
	root := "pop3s://" + pop3URL(s, testUser, testPassword, "")[len("pop3://"):]

	sizes := parseScanListing(t, curlRun(t, curl, "--cacert", cert.CertFile, root))
	uids := parseScanListing(t, curlRun(t, curl, "--cacert", cert.CertFile, "--request", "UIDL", root))
	if len(sizes) != len(fixture) || len(uids) != len(fixture) {
		t.Fatalf("LIST %v and UIDL %v: want %d messages each", sizes, uids, len(fixture))
	}
	for n, uid := range uids {
		m := fixtureByUID(t, uid)
		if want := strconv.Itoa(m.Size()); sizes[n] != want {
			t.Errorf("LIST size of message %s (%s): got %s, want %s", n, uid, sizes[n], want)
		}
		if got := curlRun(t, curl, "--cacert", cert.CertFile, root+n); got != m.Wire() {
			t.Errorf("RETR %s (%s):\n got: %q\nwant: %q", n, uid, got, m.Wire())
		}
	}
	curlRun(t, curl, "--cacert", cert.CertFile, "--request", "DELE 1", "--head", root)
	assertUIDsOnDisk(t, maildir, without(fixtureUIDs(), uids["1"]))
}

func TestPOP3SPythonPoplib(t *testing.T) {
	t.Parallel()
	cert := newTestCert(t)
	s := startServer(t, serverOptions{tls: cert})
	poplibSession(t, s, cert)
}

func TestPOP3SMpop(t *testing.T) {
	t.Parallel()
	mpop := requireTool(t, "mpop", "mpop")
	cert := newTestCert(t)
	s := startServer(t, serverOptions{tls: cert})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	dir := t.TempDir()
	out := makeMaildir(t, filepath.Join(dir, "Maildir"))
	runMpop(t, mpop, s, cert, dir, out, "off")
	assertTextsEqual(t, "mpop delivery over TLS", maildirMessages(t, out))
	assertUIDsOnDisk(t, maildir, nil)
}

func TestPOP3SFetchmail(t *testing.T) {
	t.Parallel()
	fetchmail := requireTool(t, "fetchmail", "fetchmail")
	cert := newTestCert(t)
	s := startServer(t, serverOptions{tls: cert})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if code := runFetchmail(t, fetchmail, s, cert, dir, out, "--nokeep"); code != 0 {
		t.Fatalf("fetchmail --ssl --nokeep: exit %d, want 0", code)
	}
	assertTextsEqual(t, "fetchmail delivery over TLS", dirMessages(t, out))
	assertUIDsOnDisk(t, maildir, nil)
}
