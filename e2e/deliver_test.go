//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// storageCaddyfile is a test server's config with a given storage
// directive; the verbs are the admin port, the POP3 port, the storage
// directive and the auth directive.
const storageCaddyfile = `{
	admin 127.0.0.1:%d
	layer4 {
		127.0.0.1:%d {
			route {
				pop3 {
					hostname ` + testHostname + `
					%s
					%s
				}
			}
		}
	}
}
`

// startStorageServer starts a Caddy whose pop3 handler uses the storage
// directive made by storage from the mail root, and returns it with the
// path of its Caddyfile.
func startStorageServer(t *testing.T, storage func(mailRoot string) string) (*server, string) {
	t.Helper()
	auth := "auth accounts bcrypt {\n\t\t\t\t\t\t" + testUser + " " + testPasswordHash(t) + "\n\t\t\t\t\t}"
	for try := 1; ; try++ {
		dir := t.TempDir()
		s, config, err := tryStartStorageServer(t, dir, storage, auth)
		if err == nil {
			return s, config
		}
		if errors.Is(err, errPortTaken) && try < startTries {
			t.Logf("start attempt %d: %v; retrying with other ports", try, err)
			continue
		}
		t.Fatalf("starting caddy: %v", err)
	}
}

func tryStartStorageServer(t *testing.T, dir string, storage func(string) string, auth string) (*server, string, error) {
	t.Helper()
	adminPort, pop3Port := freePort(t), freePort(t)
	s := &server{
		Addr:     fmt.Sprintf("127.0.0.1:%d", pop3Port),
		Port:     pop3Port,
		MailRoot: filepath.Join(dir, "mail"),
		Dir:      dir,
		out:      &lockedBuffer{},
		exited:   make(chan struct{}),
	}
	if err := os.MkdirAll(s.MailRoot, 0o700); err != nil {
		return nil, "", err
	}
	config := filepath.Join(dir, "Caddyfile")
	text := fmt.Sprintf(storageCaddyfile, adminPort, pop3Port, storage(s.MailRoot), auth)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		return nil, "", err
	}
	s.cmd = exec.Command(caddyBin, "run", "--config", config)
	s.cmd.Env = caddyEnv(dir)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		return nil, "", err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		s.stop()
		out := s.out.String()
		if strings.Contains(out, "address already in use") {
			return nil, "", fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return nil, "", fmt.Errorf("%v; caddy output:\n%s", err, out)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("caddy output:\n%s", s.out.String())
		}
	})
	return s, config, nil
}

// caddyEnv is the environment of the Caddy processes of a test: their
// home and data directories under dir.
func caddyEnv(dir string) []string {
	home := filepath.Join(dir, "home")
	return append(os.Environ(),
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
	)
}

// storageBackends are the storage directives the delivery tests run with.
var storageBackends = []struct {
	name    string
	storage func(mailRoot string) string
}{
	{"maildir", func(root string) string { return "storage maildir " + root + "/{pop3.user}/Maildir" }},
	{"mbox", func(root string) string {
		return "storage mbox {\n\t\t\t\t\t\tpath " + root + "/{pop3.user}\n\t\t\t\t\t\tlock_timeout 30s\n\t\t\t\t\t}"
	}},
}

// deliverCmd runs `caddy pop3 deliver` with msg on stdin and returns its
// exit code and stderr.
func deliverCmd(t *testing.T, dir string, msg string, args ...string) (int, string) {
	t.Helper()
	cmd, stderr := deliverProcess(t, dir, msg, args...)
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exitErr):
		return exitErr.ExitCode(), stderr.String()
	default:
		t.Fatalf("running caddy pop3 deliver: %v", err)
		return 0, ""
	}
}

// deliverProcess prepares a `caddy pop3 deliver` process, bounded by
// commandTimeout.
func deliverProcess(t *testing.T, dir string, msg string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, caddyBin, append([]string{"pop3", "deliver"}, args...)...)
	cmd.Env = caddyEnv(dir)
	cmd.Stdin = strings.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

// wireOf returns a message as RETR sends it before dot-stuffing (and as
// curl prints it): CRLF line endings, ending with CRLF.
func wireOf(msg string) string {
	w := toCRLF(toLF(msg))
	if !strings.HasSuffix(w, "\r\n") {
		w += "\r\n"
	}
	return w
}

// deliveryMessages are delivered by the command in the tests below: what
// goes to stdin, and the message the maildrop must then hold.
var deliveryMessages = []struct{ stdin, stored string }{
	{"From: a@example.net\nSubject: one\n\nFrom the start of a line\n>From quoted\n.\n..two dots\n",
		"From: a@example.net\nSubject: one\n\nFrom the start of a line\n>From quoted\n.\n..two dots\n"},
	{"Subject: two\r\n\r\ncrlf line\r\n", "Subject: two\r\n\r\ncrlf line\r\n"},
	{"Subject: two\r\n\r\ncrlf line\r\n", "Subject: two\r\n\r\ncrlf line\r\n"}, // identical: its own UIDL
	{"Subject: three\n\nno newline at the end", "Subject: three\n\nno newline at the end"},
	// As Postfix's local(8) pipes it to mailbox_command: with a From_ line.
	{"From bounce@example.org  Mon Jan  1 00:00:00 2024\nReturn-Path: <bounce@example.org>\nSubject: four\n\nbody\n",
		"Return-Path: <bounce@example.org>\nSubject: four\n\nbody\n"},
}

func TestDeliverCommandThenFetch(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	for _, backend := range storageBackends {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			s, config := startStorageServer(t, backend.storage)
			for i, m := range deliveryMessages {
				if code, stderr := deliverCmd(t, s.Dir, m.stdin, "--config", config, "--user", testUser); code != 0 {
					t.Fatalf("delivering message %d: exit %d\n%s", i, code, stderr)
				}
			}
			root := pop3URL(s, testUser, testPassword, "")
			sizes := parseScanListing(t, curlRun(t, curl, root))
			uids := parseScanListing(t, curlRun(t, curl, "--request", "UIDL", root))
			if len(sizes) != len(deliveryMessages) || len(uids) != len(deliveryMessages) {
				t.Fatalf("LIST %v, UIDL %v: want %d messages", sizes, uids, len(deliveryMessages))
			}
			seen := map[string]bool{}
			for i, m := range deliveryMessages {
				n := strconv.Itoa(i + 1)
				want := wireOf(m.stored)
				if got := curlRun(t, curl, root+n); got != want {
					t.Errorf("RETR %s:\n got: %q\nwant: %q", n, got, want)
				}
				if sizes[n] != strconv.Itoa(len(want)) {
					t.Errorf("LIST %s: %s, want %d", n, sizes[n], len(want))
				}
				if seen[uids[n]] {
					t.Errorf("UIDL %q given twice", uids[n])
				}
				seen[uids[n]] = true
			}

			// Delete the first of the identical pair: the others keep
			// their UIDLs, byte for byte their content.
			curlRun(t, curl, "--request", "DELE 2", "--head", root)
			after := parseScanListing(t, curlRun(t, curl, "--request", "UIDL", root))
			want := []string{uids["1"], uids["3"], uids["4"], uids["5"]}
			var got []string
			for i := range len(after) {
				got = append(got, after[strconv.Itoa(i+1)])
			}
			if !slices.Equal(got, want) {
				t.Errorf("UIDL after DELE 2: %q, want %q", got, want)
			}
			if got := curlRun(t, curl, root+"2"); got != wireOf(deliveryMessages[2].stored) {
				t.Errorf("RETR 2 after DELE: %q", got)
			}
		})
	}
}

// TestDeliverCommandDuringSession delivers while a POP3 session holds the
// maildrop. With maildir, the delivery goes through at once; with mbox,
// the session holds the spool's locks, so the delivery waits for the
// session's end (up to lock_timeout). Either way the message is in the
// next session and nothing the session kept is lost.
func TestDeliverCommandDuringSession(t *testing.T) {
	t.Parallel()
	for _, backend := range storageBackends {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			s, config := startStorageServer(t, backend.storage)
			first := []string{"Subject: 1\n\none\n", "Subject: 2\n\ntwo\n"}
			for _, m := range first {
				if code, stderr := deliverCmd(t, s.Dir, m, "--config", config, "--user", testUser); code != 0 {
					t.Fatalf("delivering: exit %d\n%s", code, stderr)
				}
			}

			p := dialPOP3(t, s.Addr)
			if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("PASS: %q", r)
			}
			late := "Subject: 3\n\nduring the session\n"
			cmd, stderr := deliverProcess(t, s.Dir, late, "--config", config, "--user", testUser)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if r := p.Cmd("STAT"); r != "+OK 2 "+strconv.Itoa(len(wireOf(first[0]))+len(wireOf(first[1]))) {
				t.Errorf("STAT during the delivery: %q", r)
			}
			if r := p.Cmd("DELE 1"); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("DELE: %q", r)
			}
			if r := p.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("QUIT: %q", r)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("delivery during the session: %v\n%s", err, stderr)
			}

			q := dialPOP3(t, s.Addr)
			if r := q.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("PASS: %q", r)
			}
			want := len(wireOf(first[1])) + len(wireOf(late))
			if r := q.Cmd("STAT"); r != "+OK 2 "+strconv.Itoa(want) {
				t.Errorf("STAT after the session: %q, want +OK 2 %d", r, want)
			}
			q.Cmd("QUIT")
		})
	}
}

func TestDeliverCommandExitCodes(t *testing.T) {
	t.Parallel()
	s, config := startStorageServer(t, storageBackends[1].storage)
	// The same spools with a short lock timeout, for a locked mailbox.
	short := filepath.Join(s.Dir, "Caddyfile.short")
	text, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, bytes.Replace(text, []byte("lock_timeout 30s"), []byte("lock_timeout 200ms"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	notPOP3 := filepath.Join(s.Dir, "other.json")
	if err := os.WriteFile(notPOP3, []byte(`{"apps":{"http":{}}}`), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		msg  string
		args []string
		code int
	}{
		{"ok", "Subject: x\n\nx\n", []string{"--config", config, "--user", testUser}, 0},
		{"adapter given", "Subject: x\n\nx\n", []string{"--config", short, "--adapter", "caddyfile", "--user", testUser}, 0},
		{"server given", "Subject: x\n\nx\n", []string{"--config", config, "--server", "srv0", "--user", testUser}, 0},
		{"no user", "x\n", []string{"--config", config}, 64},
		{"no config", "x\n", []string{"--user", testUser}, 64},
		{"unknown flag", "x\n", []string{"--config", config, "--user", testUser, "--frobnicate"}, 64},
		{"extra argument", "x\n", []string{"--config", config, "--user", testUser, "extra"}, 64},
		{"empty message", "", []string{"--config", config, "--user", testUser}, 65},
		{"invalid user", "x\n", []string{"--config", config, "--user", "../../etc/passwd"}, 67},
		{"missing config", "x\n", []string{"--config", filepath.Join(s.Dir, "nope"), "--user", testUser}, 78},
		{"no pop3 handler", "x\n", []string{"--config", notPOP3, "--user", testUser}, 78},
		{"unknown server", "x\n", []string{"--config", config, "--server", "srv7", "--user", testUser}, 78},
	}
	for _, tt := range tests {
		code, stderr := deliverCmd(t, s.Dir, tt.msg, tt.args...)
		if code != tt.code {
			t.Errorf("%s: exit %d, want %d\n%s", tt.name, code, tt.code, stderr)
		}
	}

	// A session holds the spool: the delivery gives up after the lock
	// timeout with EX_TEMPFAIL, so that the MTA tries again later.
	p := dialPOP3(t, s.Addr)
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("PASS: %q", r)
	}
	if code, stderr := deliverCmd(t, s.Dir, "x\n", "--config", short, "--user", testUser); code != 75 {
		t.Errorf("locked mailbox: exit %d, want 75\n%s", code, stderr)
	}
	p.Cmd("QUIT")
	if code, stderr := deliverCmd(t, s.Dir, "x\n", "--config", short, "--user", testUser); code != 0 {
		t.Errorf("after the session: exit %d, want 0\n%s", code, stderr)
	}
}

// fetchmailMDATemplate polls a test server and delivers with
// `caddy pop3 deliver`; the verbs are the port, the password, the Caddy
// binary and the config of the receiving server.
const fetchmailMDATemplate = `set no syslog
set invisible
poll 127.0.0.1 protocol pop3 service %d auth password timeout 20
	user "` + testUser + `" password "%s" is ` + testUser + ` here
	sslproto '' no rewrite
	mda "%s pop3 deliver --config %s --user %%T"
`

// TestFetchmailIntoDeliverCommand runs fetchmail as in examples/fetchmail:
// it fetches from a server that keeps its mail in mbox spools and hands
// each message to `caddy pop3 deliver`, which puts it into the maildir of
// another server. fetchmail's idfile also shows that the mbox UIDLs stay
// the same from one session to the next.
func TestFetchmailIntoDeliverCommand(t *testing.T) {
	t.Parallel()
	fetchmail := requireTool(t, "fetchmail", "fetchmail")
	curl := requireTool(t, "curl", "curl")
	source, sourceConfig := startStorageServer(t, storageBackends[1].storage) // mbox
	sink, sinkConfig := startStorageServer(t, storageBackends[0].storage)     // maildir
	msgs := []string{
		"From: a@example.net\nSubject: one\n\nFrom the start of a line\n>From quoted\n.\n",
		"Subject: two\n\nsecond\n",
		"Subject: two\n\nsecond\n",
	}
	for _, m := range msgs {
		if code, stderr := deliverCmd(t, source.Dir, m, "--config", sourceConfig, "--user", testUser); code != 0 {
			t.Fatalf("delivering to the source: exit %d\n%s", code, stderr)
		}
	}

	dir := t.TempDir()
	rc := filepath.Join(dir, "fetchmailrc")
	text := fmt.Sprintf(fetchmailMDATemplate, source.Port, testPassword, caddyBin, sinkConfig)
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(options ...string) int {
		args := append([]string{
			"--fetchmailrc", rc, "--idfile", filepath.Join(dir, "fetchids"),
			"--pidfile", filepath.Join(dir, "fetchmail.pid"), "--nodetach", "--nosyslog",
		}, options...)
		stdout, stderr, code := runCommand(t, dir, []string{"HOME=" + dir, "FETCHMAILHOME=" + dir}, fetchmail, args...)
		t.Logf("fetchmail %q: exit %d\nstdout:\n%s\nstderr:\n%s", options, code, stdout, stderr)
		return code
	}
	if code := run("--keep"); code != 0 {
		t.Fatalf("fetchmail --keep: exit %d, want 0", code)
	}
	if code := run("--keep"); code != fetchmailExitNoMail {
		t.Errorf("second fetchmail --keep: exit %d, want %d: the mbox UIDLs changed", code, fetchmailExitNoMail)
	}
	if code := run("--nokeep", "--all"); code != 0 {
		t.Fatalf("fetchmail --nokeep --all: exit %d, want 0", code)
	}

	sinkRoot := pop3URL(sink, testUser, testPassword, "")
	listing := parseScanListing(t, curlRun(t, curl, sinkRoot))
	if len(listing) != 2*len(msgs) {
		t.Fatalf("the sink has %d messages, want %d (each fetched twice)", len(listing), 2*len(msgs))
	}
	for i := range 2 * len(msgs) {
		n := strconv.Itoa(i + 1)
		if got, want := curlRun(t, curl, sinkRoot+n), wireOf(msgs[i%len(msgs)]); got != want {
			t.Errorf("sink message %s:\n got: %q\nwant: %q", n, got, want)
		}
	}
	if left := parseScanListing(t, curlRun(t, curl, pop3URL(source, testUser, testPassword, ""))); len(left) != 0 {
		t.Errorf("the source still has %d messages after --nokeep", len(left))
	}
}
