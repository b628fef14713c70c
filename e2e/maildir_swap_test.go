//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"golang.org/x/sys/unix"
)

// swapMessage is message n of user in the swap tests; alice's and bob's
// have the same file names, so that a lookup by name through a swapped
// directory would find bob's.
func swapMessage(user string, n int) []byte {
	return fmt.Appendf(nil, "Message-ID: <%d.%s@swap.test>\nFrom: sender@example.net\nSubject: %s's message %d\n\nbody of %s %d\n", n, user, user, n, user, n)
}

// writeSwapMessages writes messages 1..count of user into sub ("new", as
// delivered, or "cur", as a mail reader leaves them) of maildir and
// records them in inv.
func writeSwapMessages(t *testing.T, inv *inventory, maildir, sub, user string, count int) {
	t.Helper()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	info := ""
	if sub == "cur" {
		info = ":2,"
	}
	for n := 1; n <= count; n++ {
		msg := swapMessage(user, n)
		if err := os.WriteFile(filepath.Join(maildir, sub, fmt.Sprintf("1700000000.M%06dP1.swap%s", n, info)), msg, 0o600); err != nil {
			t.Fatal(err)
		}
		inv.add(messageID(msg), msg, mustStay)
	}
}

// swapFile returns the path of message n in sub of maildir.
func swapFile(t *testing.T, maildir, sub string, n int) string {
	t.Helper()
	base := fmt.Sprintf("1700000000.M%06dP1.swap", n)
	entries, err := os.ReadDir(filepath.Join(maildir, sub))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), base) {
			return filepath.Join(maildir, sub, e.Name())
		}
	}
	t.Fatalf("message %d is not in %s/%s", n, maildir, sub)
	return ""
}

// retrChecked sends RETR n and returns the first line of the answer;
// anything served is checked against the inventory and against secret,
// and counted in *wrong when it should not have been served.
func retrChecked(t *testing.T, p *pop3test.Client, inv *inventory, n int, secret []byte, wrong *int) string {
	t.Helper()
	status := p.Cmd("RETR " + strconv.Itoa(n))
	if !strings.HasPrefix(status, "+OK") {
		return status
	}
	got := []byte(lfText(p.MultiLines()))
	if bytes.Contains(got, secret) || !inv.served(got) {
		*wrong++
		t.Errorf("RETR %d served %q", n, got)
	}
	return status
}

// TestMaildirSwapsAfterLogin attacks a maildir from inside while its user
// is logged in, as a local user who owns the maildir could: a message
// replaced by a symbolic link to a secret file (standing for /etc/shadow),
// by a directory, removed, replaced by a FIFO, the directory holding the
// messages (new/ as delivered, or cur/ as a mail reader leaves them)
// swapped for a link to bob's. Nothing but alice's own mail may be
// served, no session may hang, the admin API ends the session, bob's mail
// stays intact, and alice's is deleted only where she asked.
func TestMaildirSwapsAfterLogin(t *testing.T) {
	t.Parallel()
	for _, sub := range []string{"new", "cur"} {
		t.Run(sub, func(t *testing.T) {
			t.Parallel()
			testMaildirSwapsAfterLogin(t, sub)
		})
	}
}

func testMaildirSwapsAfterLogin(t *testing.T, sub string) {
	other := map[string]string{"new": "cur", "cur": "new"}[sub]
	s := startServer(t, serverOptions{auth: twoAccounts(t)})
	alice, bob := s.Maildir(testUser), s.Maildir("bob")
	inv := newInventory()
	writeSwapMessages(t, inv, alice, sub, testUser, 5)
	writeSwapMessages(t, inv, bob, sub, "bob", 3)
	secret := []byte("root:$y$j9T$not-really-the-shadow-hash:19000:0:99999:7:::\n")
	secretPath := filepath.Join(s.Dir, "shadow")
	if err := os.WriteFile(secretPath, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	// Bob logs in once (his maildir is listed and cached too).
	pb := dialPOP3(t, s.Addr)
	if r := pb.LoginReply("bob", bobPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("bob's login: %q", r)
	}
	pb.Cmd("QUIT")

	wrong := 0
	p := dialPOP3(t, s.Addr)
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login: %q", r)
	}
	swaps := []struct {
		n    int
		what string
		swap func(path string) error
	}{
		{1, "symlink to a secret file", func(path string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.Symlink(secretPath, path)
		}},
		{3, "directory", func(path string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.Mkdir(path, 0o700)
		}},
		{5, "nothing (removed by another program)", os.Remove},
	}
	for _, sw := range swaps {
		if err := sw.swap(swapFile(t, alice, sub, sw.n)); err != nil {
			t.Fatal(err)
		}
		inv.set(messageID(swapMessage(testUser, sw.n)), mayStay)
		if r := retrChecked(t, p, inv, sw.n, secret, &wrong); !strings.HasPrefix(r, "-ERR [SYS/PERM]") {
			t.Errorf("RETR %d, replaced by a %s: %q, want -ERR [SYS/PERM]", sw.n, sw.what, r)
		}
	}
	if r := retrChecked(t, p, inv, 4, secret, &wrong); !strings.HasPrefix(r, "+OK") {
		t.Errorf("RETR 4, untouched: %q", r)
	}
	if r := p.Cmd("DELE 4"); !strings.HasPrefix(r, "+OK") {
		t.Errorf("DELE 4: %q", r)
	}

	// Message 2 becomes a FIFO: RETR must not hang, and the admin API
	// ends the session at once (before the fix, open(2) waited forever
	// for a writer, the maildrop stayed locked and DELETE answered 202
	// {"ended":false}). Nothing is deleted.
	fifo := swapFile(t, alice, sub, 2)
	if err := os.Remove(fifo); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	inv.set(messageID(swapMessage(testUser, 2)), mayStay)
	v := s.sessionOf(t, p)
	p.Send("RETR 2\r\n")
	path := "/pop3/sessions/" + strconv.FormatUint(v.ID, 10)
	if code, body := s.adminRequest(t, http.MethodDelete, path); code != http.StatusOK || !strings.Contains(string(body), `"ended":true`) {
		t.Errorf("DELETE %s during RETR of a FIFO: %d %s, want 200 and ended", path, code, body)
	}
	// The client hears -ERR [SYS/PERM] for RETR when the session answered
	// it before the end, then -ERR [SYS/TEMP] when the session could
	// still say why it ends; then the connection closes.
	for _, l := range p.ReadUntilClose() {
		if !strings.HasPrefix(l, "-ERR [SYS/PERM]") && !strings.HasPrefix(l, "-ERR [SYS/TEMP]") {
			t.Errorf("after the admin ended the session: %q", l)
		}
	}

	// sub becomes a link to bob's during alice's next session.
	p = dialPOP3(t, s.Addr)
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK Logged in, 1 messages") {
		t.Errorf("login after the swaps: %q, want only message 4 left", r)
	}
	if err := os.Rename(filepath.Join(alice, sub), filepath.Join(alice, sub+".moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(bob, sub), filepath.Join(alice, sub)); err != nil {
		t.Fatal(err)
	}
	// The session holds no descriptor of its directories between commands
	// (so that an idle session costs one: its connection); it opens them
	// again by path, refusing the link, and checks that each is the one it
	// logged into, so it reads and deletes nothing: its message stays in
	// sub.moved, and QUIT says the deletion failed.
	retrChecked(t, p, inv, 1, secret, &wrong)
	p.Cmd("DELE 1")
	if r := p.Cmd("QUIT"); !strings.HasPrefix(r, "-ERR [SYS/TEMP]") {
		t.Errorf("QUIT with %s/ swapped for a link: %q, want -ERR [SYS/TEMP]", sub, r)
	}

	// With sub a link, alice cannot log in at all.
	p = dialPOP3(t, s.Addr)
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("login with %s/ a link to bob's: %q, want -ERR", sub, r)
		p.Cmd("QUIT")
	}

	if b, err := os.ReadFile(secretPath); err != nil || !bytes.Equal(b, secret) {
		t.Errorf("the secret file changed: %q, %v", b, err)
	}
	tl := inv.check(t, filepath.Join(bob, "cur"), filepath.Join(bob, "new"), filepath.Join(alice, sub+".moved"), filepath.Join(alice, other))
	t.Logf("swaps after login: %d served wrongly; %d messages present (bob's 3 must be), %d lost, %d duplicated, %d corrupted, %d not deleted",
		wrong, tl.present, tl.lost, tl.duplicated, tl.corrupted, tl.undeleted)
	if wrong != 0 {
		t.Errorf("%d messages served that should not have been", wrong)
	}
}
