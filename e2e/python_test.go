//go:build linux

package e2e

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// poplib runs testdata/poplib_session.py in the given mode and decodes the
// JSON it prints into out. With cert, it connects with implicit TLS.
func poplib(t *testing.T, s *server, cert *testCert, mode, password string, out any) {
	t.Helper()
	python := requireTool(t, "python3", "python3")
	script, err := filepath.Abs(filepath.Join("testdata", "poplib_session.py"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{script, mode, "127.0.0.1", strconv.Itoa(s.Port), testUser, password}
	if cert != nil {
		args = append(args, cert.CertFile)
	}
	stdout, stderr, code := runCommand(t, "", nil, python, args...)
	if code != 0 {
		t.Fatalf("poplib %s: exit %d\nstderr:\n%s", mode, code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("poplib %s: decoding %q: %v", mode, stdout, err)
	}
}

func TestPythonPoplibSession(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	poplibSession(t, s, nil)
}

// poplibSession runs the poplib "session" mode against a server and checks
// every answer and what is left on disk.
func poplibSession(t *testing.T, s *server, cert *testCert) {
	t.Helper()
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	var got struct {
		Welcome       string            `json:"welcome"`
		Stat          []int             `json:"stat"`
		List          map[string]string `json:"list"`
		UIDL          map[string]string `json:"uidl"`
		Retr          map[string]string `json:"retr"`
		Top0          map[string]string `json:"top0"`
		Top2          map[string]string `json:"top2"`
		StatAfterDele []int             `json:"stat_after_dele"`
		RetrDeleted   string            `json:"retr_deleted"`
		StatAfterRset []int             `json:"stat_after_rset"`
		Quit          string            `json:"quit"`
	}
	poplib(t, s, cert, "session", testPassword, &got)

	if !strings.HasPrefix(got.Welcome, "+OK") {
		t.Errorf("greeting: %q", got.Welcome)
	}
	total := 0
	for _, m := range fixture {
		total += m.Size()
	}
	if want := []int{len(fixture), total}; !slices.Equal(got.Stat, want) {
		t.Errorf("STAT: got %v, want %v", got.Stat, want)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got.UIDL)), slices.Sorted(maps.Keys(got.List))) || len(got.UIDL) != len(fixture) {
		t.Fatalf("LIST %v and UIDL %v: want the same %d message numbers", got.List, got.UIDL, len(fixture))
	}
	for n, uid := range got.UIDL {
		m := fixtureByUID(t, uid)
		if want := strconv.Itoa(m.Size()); got.List[n] != want {
			t.Errorf("LIST %s (%s): got %s, want %s", n, uid, got.List[n], want)
		}
		if got.Retr[n] != m.Text() {
			t.Errorf("RETR %s (%s):\n got: %q\nwant: %q", n, uid, got.Retr[n], m.Text())
		}
		if want := m.Top(0); got.Top0[n] != want {
			t.Errorf("TOP %s 0 (%s):\n got: %q\nwant: %q", n, uid, got.Top0[n], want)
		}
		if want := m.Top(2); got.Top2[n] != want {
			t.Errorf("TOP %s 2 (%s):\n got: %q\nwant: %q", n, uid, got.Top2[n], want)
		}
	}

	first := fixtureByUID(t, got.UIDL["1"])
	if want := []int{len(fixture) - 1, total - first.Size()}; !slices.Equal(got.StatAfterDele, want) {
		t.Errorf("STAT after DELE 1: got %v, want %v", got.StatAfterDele, want)
	}
	if !strings.HasPrefix(got.RetrDeleted, "-ERR") {
		t.Errorf("RETR of a deleted message: got %q, want -ERR", got.RetrDeleted)
	}
	if want := []int{len(fixture), total}; !slices.Equal(got.StatAfterRset, want) {
		t.Errorf("STAT after RSET: got %v, want %v", got.StatAfterRset, want)
	}
	if !strings.HasPrefix(got.Quit, "+OK") {
		t.Errorf("QUIT: %q", got.Quit)
	}
	assertUIDsOnDisk(t, maildir, without(fixtureUIDs(), first.UID))
}

func TestPythonPoplibInUse(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	var got struct {
		SecondPass string `json:"second_pass"`
		FirstStat  []int  `json:"first_stat"`
		FirstQuit  string `json:"first_quit"`
	}
	poplib(t, s, nil, "inuse", testPassword, &got)
	if !strings.HasPrefix(got.SecondPass, "-ERR [IN-USE]") {
		t.Errorf("second concurrent login: got %q, want -ERR [IN-USE] ...", got.SecondPass)
	}
	if len(got.FirstStat) != 2 || got.FirstStat[0] != len(fixture) {
		t.Errorf("first session's STAT after the refused login: got %v, want %d messages", got.FirstStat, len(fixture))
	}
	if !strings.HasPrefix(got.FirstQuit, "+OK") {
		t.Errorf("first session's QUIT: %q", got.FirstQuit)
	}
	assertUIDsOnDisk(t, maildir, fixtureUIDs())
}

func TestPythonPoplibDroppedConnectionDeletesNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	var got struct {
		Deleted       int               `json:"deleted"`
		StatAfterDrop []int             `json:"stat_after_drop"`
		UIDLAfterDrop map[string]string `json:"uidl_after_drop"`
	}
	poplib(t, s, nil, "drop", testPassword, &got)
	if got.Deleted != len(fixture) {
		t.Errorf("marked %d messages deleted, want %d", got.Deleted, len(fixture))
	}
	if len(got.StatAfterDrop) != 2 || got.StatAfterDrop[0] != len(fixture) {
		t.Errorf("STAT after the dropped session: got %v, want %d messages", got.StatAfterDrop, len(fixture))
	}
	if uids := slices.Sorted(maps.Values(got.UIDLAfterDrop)); !slices.Equal(uids, fixtureUIDs()) {
		t.Errorf("UIDL after the dropped session: got %q, want %q", uids, fixtureUIDs())
	}
	assertUIDsOnDisk(t, maildir, fixtureUIDs())
}

func TestPythonPoplibWrongPassword(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverFixture(t, maildir)

	var got struct {
		Pass string `json:"pass"`
	}
	poplib(t, s, nil, "badpass", "not-"+testPassword, &got)
	if !strings.HasPrefix(got.Pass, "-ERR [AUTH]") {
		t.Errorf("PASS with a wrong password: got %q, want -ERR [AUTH] ...", got.Pass)
	}
	assertUIDsOnDisk(t, maildir, fixtureUIDs())
}
