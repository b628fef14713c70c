//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
)

// loadCaddyfile replaces the server's config through the admin API's
// POST /load, with the Caddyfile adapter, as `curl -X POST .../load
// -H 'Content-Type: text/caddyfile' --data-binary @Caddyfile` does. It
// returns the HTTP status and body.
func (s *server) loadCaddyfile(t *testing.T, caddyfile string) (int, string) {
	t.Helper()
	url := "http://127.0.0.1:" + strconv.Itoa(s.adminPort) + "/load"
	// A new connection each time: a reload replaces the admin server,
	// which closes kept-alive connections.
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	// Caddy replaces its admin server while it answers /load, and on a
	// busy machine the answer is sometimes cut (EOF) although the config
	// was applied. Posting the same config again is harmless (Caddy sees
	// it unchanged), so a transport error is retried; an HTTP error is not.
	const tries = 3
	for try := 1; ; try++ {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(caddyfile))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/caddyfile")
		resp, err := client.Do(req)
		if err != nil {
			if try < tries {
				t.Logf("POST /load, try %d: %v; posting again", try, err)
				continue
			}
			t.Fatalf("POST /load: %v", err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, body.String()
	}
}

// accountsAuth is an accounts block with the given users, all with
// testPassword.
func accountsAuth(t *testing.T, users ...string) string {
	var b strings.Builder
	b.WriteString("auth accounts bcrypt {\n")
	for _, u := range users {
		fmt.Fprintf(&b, "\t\t\t\t\t\t%s %s\n", u, testPasswordHash(t))
	}
	b.WriteString("\t\t\t\t\t}")
	return b.String()
}

// numberedMessage is the content of test message n of a load test.
func numberedMessage(user string, n int) string {
	return fmt.Sprintf("From: load@test.example\nTo: %s@test.example\nSubject: message %d\n\n.line with a dot %d\nbody of %s %d\n", user, n, n, user, n)
}

// numberedUID is the maildir base name (the UIDL) of test message n.
func numberedUID(n int) string {
	return fmt.Sprintf("1700000000.M%06dP1.load", n)
}

// deliverNumbered writes messages 0..count-1 into new/ of maildir.
func deliverNumbered(t *testing.T, maildir, user string, count int) {
	t.Helper()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for n := range count {
		if err := os.WriteFile(filepath.Join(maildir, "new", numberedUID(n)), []byte(numberedMessage(user, n)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// checkMessagesIntact checks that every message left in maildir is one of
// the numbered messages, byte for byte, and returns their UIDLs.
func checkMessagesIntact(t *testing.T, maildir, user string) []string {
	t.Helper()
	uids := uidsOnDisk(t, maildir)
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			var n int
			if _, err := fmt.Sscanf(e.Name(), "1700000000.M%06dP1.load", &n); err != nil {
				t.Errorf("unexpected file %s/%s", sub, e.Name())
				continue
			}
			got, err := os.ReadFile(filepath.Join(maildir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != numberedMessage(user, n) {
				t.Errorf("message %s is damaged: %q", e.Name(), got)
			}
		}
	}
	if dup := len(uids) - len(slices.Compact(slices.Clone(uids))); dup != 0 {
		t.Errorf("%d messages are duplicated on disk", dup)
	}
	return uids
}

// retrieve sends RETR n and returns the message with CRLF turned into LF
// and dot-stuffing undone.
func retrieve(p *pop3test.Client, n int) (string, error) {
	if r := p.Cmd("RETR " + strconv.Itoa(n)); !strings.HasPrefix(r, "+OK") {
		return "", fmt.Errorf("RETR %d: %q", n, r)
	}
	return lfText(p.MultiLines()), nil
}

func TestReloadByLoadAddsAccount(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	deliverNumbered(t, s.Maildir(testUser), testUser, 3)

	old := dialPOP3(t, s.Addr)
	if r := old.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login: %q", r)
	}

	// bob does not exist yet.
	c := dialPOP3(t, s.Addr)
	if r := c.LoginReply("bob", testPassword); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Fatalf("bob before the reload: %q", r)
	}

	s.auth = accountsAuth(t, testUser, "bob")
	if code, body := s.loadCaddyfile(t, s.caddyfile("loaded.example")); code != http.StatusOK {
		t.Fatalf("POST /load: %d %s", code, body)
	}

	// The old session goes on: RETR, DELE, QUIT with the deletion applied.
	got, err := retrieve(old, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got != numberedMessage(testUser, 1) {
		t.Errorf("RETR 2 after reload: %q", got)
	}
	if r := old.Cmd("DELE 2"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("DELE 2: %q", r)
	}
	if r := old.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %q", r)
	}
	if uids := checkMessagesIntact(t, s.Maildir(testUser), testUser); !slices.Equal(uids, []string{numberedUID(0), numberedUID(2)}) {
		t.Errorf("after DELE 2 + QUIT across a reload: %q", uids)
	}

	// A new client sees the new config: bob exists now.
	c = dialPOP3(t, s.Addr)
	if !strings.Contains(c.Greeting(), "loaded.example") {
		t.Errorf("greeting after POST /load: %q", c.Greeting())
	}
	if r := c.LoginReply("bob", testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("bob after the reload: %q", r)
	}
	c.Cmd("QUIT")
}

func TestReloadRejectsBrokenConfig(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	for _, tc := range []struct {
		name, auth, want string
	}{
		{"unknown subdirective", accountsAuth(t, testUser) + "\n\t\t\t\t\tfrobnicate on", "frobnicate"},
		{"missing passwd file", "auth passwd_file " + filepath.Join(s.Dir, "no-such-file"), "no-such-file"},
	} {
		s.auth = tc.auth
		code, body := s.loadCaddyfile(t, s.caddyfile("broken.example"))
		if code == http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("%s: POST /load answered %d %q, want an error naming %q", tc.name, code, body, tc.want)
		}
	}
	// The running config keeps serving.
	c := dialPOP3(t, s.Addr)
	if !strings.Contains(c.Greeting(), testHostname) {
		t.Errorf("greeting after rejected reloads: %q", c.Greeting())
	}
	if r := c.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login after rejected reloads: %q", r)
	}
	c.Cmd("QUIT")
}

// TestReloadUnderLoad runs clients that loop full sessions while the config
// is reloaded again and again: no connection may be refused, no session
// may fail, and every message must be accounted for.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		clients  = 4
		perUser  = 400
		reloads  = 24
		maxTime  = 3 * time.Minute
		retrieve = 2
	)
	// Caddy binds a new listener with SO_REUSEPORT at each reload and
	// closes the old one: only with this sysctl does Linux hand the
	// connections queued on the old one to the new one (README, "Reloads
	// and operations"). .ci/run sets it.
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_migrate_req"); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Fatalf("net.ipv4.tcp_migrate_req is %q (%v), not 1: reloads would reset connections queued on the old listener; run `sysctl -w net.ipv4.tcp_migrate_req=1`", b, err)
	}
	users := make([]string, clients)
	for i := range users {
		users[i] = "user" + strconv.Itoa(i)
	}
	s := startServer(t, serverOptions{auth: accountsAuth(t, users...)})
	for _, u := range users {
		deliverNumbered(t, s.Maildir(u), u, perUser)
	}

	var (
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		mu       sync.Mutex
		failures []string
		deleted  = map[string][]string{}
		sessions int
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	for _, user := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				uid, err := loadSession(s.Addr, user, retrieve)
				if err != nil {
					fail("%s: %v", user, err)
					return
				}
				mu.Lock()
				sessions++
				if uid != "" {
					deleted[user] = append(deleted[user], uid)
				}
				mu.Unlock()
			}
		}()
	}

	deadline := time.Now().Add(maxTime)
	for i := range reloads {
		if time.Now().After(deadline) {
			t.Fatalf("only %d reloads in %s", i, maxTime)
		}
		if code, body := s.loadCaddyfile(t, s.caddyfile("reload"+strconv.Itoa(i)+".example")); code != http.StatusOK {
			t.Fatalf("reload %d: %d %s", i, code, body)
		}
		// Alternate POST /load with `caddy reload`.
		if i%2 == 1 {
			s.reload(t, "cli"+strconv.Itoa(i)+".example")
		}
	}
	close(stop)
	wg.Wait()

	for _, f := range failures {
		t.Error(f)
	}
	if sessions < clients {
		t.Errorf("only %d sessions completed", sessions)
	}
	t.Logf("%d sessions during %d reloads", sessions, reloads+reloads/2)
	for _, u := range users {
		left := checkMessagesIntact(t, s.Maildir(u), u)
		var want []string
		for n := range perUser {
			want = append(want, numberedUID(n))
		}
		want = without(want, deleted[u]...)
		if !slices.Equal(left, slices.Sorted(slices.Values(want))) {
			t.Errorf("%s: %d messages left, want %d (%d deleted)", u, len(left), len(want), len(deleted[u]))
		}
	}
}

// loadSession runs one full session: login, STAT, UIDL, RETR of the first
// few messages (checked byte for byte), DELE 1, QUIT. It returns the UIDL
// of the message it deleted, or "" when the maildrop was empty.
func loadSession(addr, user string, retrieve int) (string, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	// A pop3test.Conn, not a Client: this runs in goroutines, which must
	// not fail the test themselves.
	p := pop3test.NewConn(c)
	p.SetTimeout(ioTimeout)
	lines := func(cmd string) ([]string, error) {
		first, err := p.Cmd(cmd)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(first, "+OK") {
			return nil, fmt.Errorf("%s: %q", cmd, first)
		}
		return p.ReadMulti()
	}
	if g, err := p.ReadLine(); err != nil || !strings.HasPrefix(g, "+OK") {
		return "", fmt.Errorf("greeting %q: %v", g, err)
	}
	for _, cmd := range []string{"USER " + user, "PASS " + testPassword, "STAT"} {
		if r, err := p.Cmd(cmd); err != nil || !strings.HasPrefix(r, "+OK") {
			return "", fmt.Errorf("%s: %q %v", cmd, r, err)
		}
	}
	uidl, err := lines("UIDL")
	if err != nil {
		return "", err
	}
	if len(uidl) == 0 {
		_, err := p.Cmd("QUIT")
		return "", err
	}
	for i := 0; i < retrieve && i < len(uidl); i++ {
		f := strings.Fields(uidl[i])
		var n int
		if len(f) != 2 {
			return "", fmt.Errorf("UIDL line %q", uidl[i])
		}
		if _, err := fmt.Sscanf(f[1], "1700000000.M%06dP1.load", &n); err != nil {
			return "", fmt.Errorf("UIDL %q: %v", f[1], err)
		}
		body, err := lines("RETR " + f[0])
		if err != nil {
			return "", err
		}
		if got := lfText(body); got != numberedMessage(user, n) {
			return "", fmt.Errorf("RETR %s: got %q", f[0], got)
		}
	}
	if r, err := p.Cmd("DELE 1"); err != nil || !strings.HasPrefix(r, "+OK") {
		return "", fmt.Errorf("DELE 1: %q %v", r, err)
	}
	if r, err := p.Cmd("QUIT"); err != nil || !strings.HasPrefix(r, "+OK") {
		return "", fmt.Errorf("QUIT: %q %v", r, err)
	}
	return strings.Fields(uidl[0])[1], nil
}

// TestSIGKILLDuringUpdate kills the server while it applies a QUIT's
// deletions: afterwards every message is either intact or deleted as
// asked, never damaged or duplicated, and the maildrop is not left locked.
func TestSIGKILLDuringUpdate(t *testing.T) {
	t.Parallel()
	const count = 3000
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverNumbered(t, maildir, testUser, count)

	c := dialPOP3(t, s.Addr)
	if r := c.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login: %q", r)
	}
	// Mark every message, in one pipelined write.
	var dele strings.Builder
	for n := 1; n <= count; n++ {
		fmt.Fprintf(&dele, "DELE %d\r\n", n)
	}
	c.Send(dele.String())
	for n := 1; n <= count; n++ {
		if r := c.ReadLine(); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("DELE %d: %q", n, r)
		}
	}
	c.Send("QUIT\r\n")
	// Kill it while it removes files.
	time.Sleep(2 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.exited

	left := checkMessagesIntact(t, maildir, testUser)
	t.Logf("%d of %d messages left after SIGKILL during UPDATE", len(left), count)

	// A new process takes over the maildrop at once: the dead one's lock
	// went with it.
	s2 := startServer(t, serverOptions{mailRoot: s.MailRoot})
	c2 := dialPOP3(t, s2.Addr)
	if r := c2.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login after SIGKILL: %q", r)
	}
	if r, want := c2.Cmd("STAT"), "+OK "+strconv.Itoa(len(left))+" "; !strings.HasPrefix(r, want) {
		t.Errorf("STAT after SIGKILL: %q, want %q...", r, want)
	}
	c2.Cmd("QUIT")
}

// TestStaleLockTakeover kills a server that holds a maildrop's lock in the
// middle of a session; a second server on the same maildirs logs the user
// in at once, and nothing was deleted.
func TestStaleLockTakeover(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverNumbered(t, maildir, testUser, 5)
	c := dialPOP3(t, s.Addr)
	if r := c.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login: %q", r)
	}
	c.Cmd("DELE 1")
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.exited

	s2 := startServer(t, serverOptions{mailRoot: s.MailRoot})
	c2 := dialPOP3(t, s2.Addr)
	if r := c2.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK 5 messages") && !strings.HasPrefix(r, "+OK Logged in, 5 messages") {
		t.Fatalf("login after the lock holder died: %q", r)
	}
	c2.Cmd("QUIT")
	if left := checkMessagesIntact(t, maildir, testUser); len(left) != 5 {
		t.Errorf("%d messages left, want 5", len(left))
	}
}

// TestStopEndsSessionsSafely stops the server (SIGTERM, as `caddy stop`)
// during a session that marked messages: the client is told, and nothing
// is deleted.
func TestStopEndsSessionsSafely(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	maildir := s.Maildir(testUser)
	deliverNumbered(t, maildir, testUser, 3)
	c := dialPOP3(t, s.Addr)
	if r := c.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login: %q", r)
	}
	c.Cmd("DELE 1")
	c.Cmd("DELE 2")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if r := c.ReadLine(); !strings.HasPrefix(r, "-ERR [SYS/TEMP]") {
		t.Errorf("at stop: %q, want -ERR [SYS/TEMP] ...", r)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		t.Fatal("caddy did not exit after SIGTERM")
	}
	if left := checkMessagesIntact(t, maildir, testUser); len(left) != 3 {
		t.Errorf("%d messages left after stop, want 3", len(left))
	}
}
