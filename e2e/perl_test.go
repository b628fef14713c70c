//go:build linux

package e2e

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"
)

func TestPerlNetPOP3(t *testing.T) {
	t.Parallel()
	perl := requireTool(t, "perl", "perl")
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	script, err := filepath.Abs(filepath.Join("testdata", "netpop3_session.pl"))
	if err != nil {
		t.Fatal(err)
	}
	const deleteNumber = "2"
	stdout, stderr, code := runCommand(t, "", nil, perl, script,
		"127.0.0.1", strconv.Itoa(s.Port), testUser, testPassword, deleteNumber)
	if code != 0 {
		t.Fatalf("Net::POP3: exit %d\nstderr:\n%s", code, stderr)
	}
	var got struct {
		Count int               `json:"count"`
		List  map[string]int    `json:"list"`
		UIDL  map[string]string `json:"uidl"`
		Retr  map[string]string `json:"retr"`
		Top1  map[string]string `json:"top1"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("decoding %q: %v", stdout, err)
	}

	if got.Count != len(fixture) || len(got.List) != len(fixture) || len(got.UIDL) != len(fixture) {
		t.Fatalf("login count %d, LIST %v, UIDL %v: want %d messages", got.Count, got.List, got.UIDL, len(fixture))
	}
	for n, uid := range got.UIDL {
		m := fixtureByUID(t, uid)
		if got.List[n] != m.Size() {
			t.Errorf("LIST %s (%s): got %d, want %d", n, uid, got.List[n], m.Size())
		}
		// Net::POP3 turns CRLF into LF and undoes the dot-stuffing.
		if got.Retr[n] != m.Text() {
			t.Errorf("RETR %s (%s):\n got: %q\nwant: %q", n, uid, got.Retr[n], m.Text())
		}
		if want := m.Top(1); got.Top1[n] != want {
			t.Errorf("TOP %s 1 (%s):\n got: %q\nwant: %q", n, uid, got.Top1[n], want)
		}
	}
	assertUIDsOnDisk(t, maildir, without(fixtureUIDs(), got.UIDL[deleteNumber]))
}
