//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The accounts of an LMTP test server: they all have testPassword.
var lmtpUsers = []string{"alice", "bob", "carol", "sender"}

// lmtpCaddyfile is an LMTP test server's config: a pop3 and an lmtp
// listener sharing one storage block (a snippet). The verbs are the
// storage directive, the admin port, the POP3 port, the POP3 auth block,
// the LMTP port and more lmtp subdirectives.
const lmtpCaddyfile = `(mailstore) {
	%s
}

{
	admin 127.0.0.1:%d
	layer4 {
		127.0.0.1:%d {
			route {
				pop3 {
					hostname ` + testHostname + `
					import mailstore
					%s
				}
			}
		}
		127.0.0.1:%d {
			route {
				lmtp {
					hostname lmtp.` + testHostname + `
					import mailstore
					strip_domain
					domains example.com
					%s
				}
			}
		}
	}
}
`

// lmtpServer is a running Caddy with a pop3 and an lmtp listener.
type lmtpServer struct {
	*server
	// LMTPAddr is the LMTP listener, 127.0.0.1:port.
	LMTPAddr string
	LMTPPort int
	// text is the Caddyfile with the given extra lmtp subdirectives.
	text func(lmtpExtra string) string
}

// reload loads the config again with other extra lmtp subdirectives, with
// `caddy reload` through the admin API.
func (s *lmtpServer) reload(t *testing.T, lmtpExtra string) {
	t.Helper()
	if err := os.WriteFile(s.config, []byte(s.text(lmtpExtra)), 0o600); err != nil {
		t.Fatal(err)
	}
	caddyRun(t, "reload", "--config", s.config, "--adapter", "caddyfile",
		"--address", "127.0.0.1:"+strconv.Itoa(s.adminPort))
}

// lmtpBackends are the storage directives the LMTP tests run with; the
// mbox one gives up on a locked spool after one second.
var lmtpBackends = []struct {
	name    string
	storage func(mailRoot string) string
}{
	storageBackends[0], // maildir
	{"mbox", func(root string) string {
		return "storage mbox {\n\t\tpath " + root + "/{pop3.user}\n\t\tlock_timeout 1s\n\t}"
	}},
}

// startLMTPServer starts a Caddy serving POP3 and LMTP on one storage.
func startLMTPServer(t *testing.T, storage func(mailRoot string) string, lmtpExtra string) *lmtpServer {
	t.Helper()
	hash := testPasswordHash(t)
	var auth strings.Builder
	auth.WriteString("auth accounts bcrypt {\n")
	for _, u := range lmtpUsers {
		fmt.Fprintf(&auth, "\t\t\t\t\t\t%s %s\n", u, hash)
	}
	auth.WriteString("\t\t\t\t\t}")
	dir := t.TempDir()
	return retryStart(t, func() (*lmtpServer, error) {
		adminPort, pop3Port, lmtpPort := freePort(t), freePort(t), freePort(t)
		s := &lmtpServer{
			server: &server{
				Addr:     fmt.Sprintf("127.0.0.1:%d", pop3Port),
				Port:     pop3Port,
				MailRoot: filepath.Join(dir, "mail"),
				Dir:      dir,
				out:      &lockedBuffer{},
				exited:   make(chan struct{}),
			},
			LMTPAddr: fmt.Sprintf("127.0.0.1:%d", lmtpPort),
			LMTPPort: lmtpPort,
		}
		home := filepath.Join(dir, "home")
		for _, d := range []string{s.MailRoot, home} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		config := filepath.Join(dir, "Caddyfile")
		s.config, s.adminPort = config, adminPort
		s.text = func(extra string) string {
			return fmt.Sprintf(lmtpCaddyfile, storage(s.MailRoot), adminPort, pop3Port, auth.String(), lmtpPort, extra)
		}
		if err := os.WriteFile(config, []byte(s.text(lmtpExtra)), 0o600); err != nil {
			return nil, err
		}
		ready := func() error {
			if err := s.waitReady(); err != nil {
				return err
			}
			return probeLMTP(s.LMTPAddr)
		}
		if err := s.launch(t, []string{"run", "--config", config, "--adapter", "caddyfile"}, home, ready); err != nil {
			return nil, err
		}
		return s, nil
	})
}

// probeLMTP checks that addr greets with 220 and says goodbye.
func probeLMTP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "220 ") {
		return fmt.Errorf("LMTP greeting %q", line)
	}
	_, _ = c.Write([]byte("QUIT\r\n"))
	return nil
}

// popFetch returns every message of user's maildrop as POP3 RETR sends it
// (Python's poplib; nothing deleted).
func popFetch(t *testing.T, s *server, user string) [][]byte {
	t.Helper()
	python := requireTool(t, "python3", "python3")
	script, err := filepath.Abs(filepath.Join("testdata", "lmtp_fetch.py"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCommand(t, "", nil, python, script, "127.0.0.1", strconv.Itoa(s.Port), user, testPassword)
	if code != 0 {
		t.Fatalf("lmtp_fetch.py %s: exit %d\nstderr:\n%s", user, code, stderr)
	}
	var encoded []string
	if err := json.Unmarshal([]byte(stdout), &encoded); err != nil {
		t.Fatalf("lmtp_fetch.py %s: %q: %v", user, stdout, err)
	}
	out := make([][]byte, len(encoded))
	for i, e := range encoded {
		if out[i], err = base64.StdEncoding.DecodeString(e); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// crlf makes every line ending of s CRLF.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// traced is what a message delivered over LMTP looks like in the maildrop:
// the trace headers, then the message as sent.
func traced(sender, rcpt, msg string) string {
	return "Return-Path: <" + sender + ">\r\nDelivered-To: " + rcpt + "\r\n" + crlf(msg)
}

// lmtpInventory counts, per user, the messages fetched back over POP3 by
// Message-ID, with the sha256 of what the test expects each to be.
type lmtpInventory struct {
	want map[string]map[string]string // user -> Message-ID -> sha256 expected
	text map[string]string            // sha256 -> the expected message, for failure messages
}

func newLMTPInventory() *lmtpInventory {
	return &lmtpInventory{want: map[string]map[string]string{}, text: map[string]string{}}
}

// expect records that user must end up with exactly one copy of content.
func (inv *lmtpInventory) expect(user string, content []byte) {
	id := headerMessageID(content)
	if inv.want[user] == nil {
		inv.want[user] = map[string]string{}
	}
	inv.want[user][id] = sha(content)
	inv.text[sha(content)] = string(content)
}

// headerMessageID is the Message-ID header of a message, wherever it is in
// the header, or "".
func headerMessageID(content []byte) string {
	head, _, _ := bytes.Cut(content, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if v, ok := strings.CutPrefix(line, "Message-ID: "); ok {
			return v
		}
	}
	return ""
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// check fetches every user's maildrop and asserts 0 lost, 0 duplicated, 0
// corrupted, and nothing that was not delivered to that user. compare
// turns a fetched message into what was expected (identity, or the part a
// relay does not change).
func (inv *lmtpInventory) check(t *testing.T, s *server, users []string, compare func([]byte) []byte) {
	t.Helper()
	lost, dup, corrupt, stray := 0, 0, 0, 0
	for _, u := range users {
		seen := map[string]int{}
		for _, m := range popFetch(t, s, u) {
			id := headerMessageID(m)
			want, ok := inv.want[u][id]
			switch {
			case !ok:
				stray++
				t.Errorf("%s has a message it was not sent (Message-ID %q)", u, id)
			case sha(compare(m)) != want:
				corrupt++
				t.Errorf("%s: message %q differs from what was sent:\n got %q\nwant %q", u, id, compare(m), inv.text[want])
			}
			seen[id]++
		}
		for id := range inv.want[u] {
			switch n := seen[id]; {
			case n == 0:
				lost++
				t.Errorf("%s: message %q lost", u, id)
			case n > 1:
				dup++
				t.Errorf("%s: message %q stored %d times", u, id, n)
			}
		}
	}
	t.Logf("inventory: %d lost, %d duplicated, %d corrupted, %d stray", lost, dup, corrupt, stray)
}

func identity(b []byte) []byte { return b }

// body is the part of a message after its header (the first empty line).
func body(b []byte) []byte {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return b[i+4:]
	}
	return nil
}

// testLetter is a message with a Message-ID, 8-bit text and lines that
// need dot-stuffing.
func testLetter(id, subject string) string {
	return "From: Sender <sender@example.com>\n" +
		"To: undisclosed-recipients:;\n" +
		"Subject: " + subject + "\n" +
		"Message-ID: <" + id + ">\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: text/plain; charset=utf-8\n" +
		"Content-Transfer-Encoding: 8bit\n" +
		"\n" +
		"Grüße aus dem Test.\n" +
		".a line that starts with a dot\n" +
		"..and one with two\n" +
		"\n" +
		"-- \nend\n"
}

func TestLMTPSwaks(t *testing.T) {
	t.Parallel()
	swaks := requireTool(t, "swaks", "swaks")
	for _, b := range lmtpBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := startLMTPServer(t, b.storage, "max_message_size 64KiB")
			inv := newLMTPInventory()
			for i := range 3 {
				id := fmt.Sprintf("swaks-%d-%s@test.example", i, b.name)
				letter := testLetter(id, fmt.Sprintf("swaks %d", i))
				file := filepath.Join(s.Dir, fmt.Sprintf("letter%d.eml", i))
				// swaks ends the data with CRLF . CRLF after the file's
				// last line, so the file has no final newline.
				if err := os.WriteFile(file, []byte(strings.TrimSuffix(letter, "\n")), 0o644); err != nil {
					t.Fatal(err)
				}
				out, errOut, code := runCommand(t, "", nil, swaks, "--protocol", "LMTP", "--server", s.LMTPAddr,
					"--from", "sender@example.com", "--to", "alice@example.com,Bob@Example.com",
					"--helo", "mta.test", "--data", "@"+file, "--timeout", "30")
				if code != 0 {
					t.Fatalf("swaks: exit %d\n%s\n%s", code, out, errOut)
				}
				for _, want := range []string{"250 2.0.0 <alice@example.com> Delivered", "250 2.0.0 <Bob@Example.com> Delivered"} {
					if !strings.Contains(out, want) {
						t.Errorf("swaks output lacks %q:\n%s", want, out)
					}
				}
				inv.expect("alice", []byte(traced("sender@example.com", "alice@example.com", letter)))
				inv.expect("bob", []byte(traced("sender@example.com", "Bob@Example.com", letter)))
			}

			// Over max_message_size: 552 5.3.4 for each recipient, nothing stored.
			big := testLetter("swaks-big-"+b.name+"@test.example", "too big") + strings.Repeat("0123456789abcdef\n", 5000)
			file := filepath.Join(s.Dir, "big.eml")
			if err := os.WriteFile(file, []byte(big), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _, code := runCommand(t, "", nil, swaks, "--protocol", "LMTP", "--server", s.LMTPAddr,
				"--from", "sender@example.com", "--to", "alice@example.com", "--data", "@"+file, "--timeout", "30")
			if code == 0 || !strings.Contains(out, "552 5.3.4") {
				t.Errorf("swaks with a message over max_message_size: exit %d, want a 552 5.3.4:\n%s", code, out)
			}

			// An address outside `domains` is refused at RCPT.
			out, _, _ = runCommand(t, "", nil, swaks, "--protocol", "LMTP", "--server", s.LMTPAddr,
				"--from", "sender@example.com", "--to", "carol@elsewhere.test", "--timeout", "30")
			if !strings.Contains(out, "550 5.1.2") {
				t.Errorf("swaks to another domain: want 550 5.1.2:\n%s", out)
			}

			inv.check(t, s.server, []string{"alice", "bob", "carol"}, identity)

			// The metrics count what happened, on the admin endpoint.
			code, metricsText := s.adminRequest(t, http.MethodGet, "/metrics")
			if code != http.StatusOK {
				t.Fatalf("GET /metrics: %d", code)
			}
			for _, want := range []string{
				`caddy_lmtp_recipients_total{result="delivered"} 6`,
				`caddy_lmtp_recipients_total{result="rejected"} 1`,
				`caddy_lmtp_messages_total 3`,
				`caddy_lmtp_messages_rejected_total{reason="too_large"} 1`,
			} {
				if !strings.Contains(string(metricsText), want+"\n") {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			// The admin API lists live sessions: none now.
			if code, list := s.adminRequest(t, http.MethodGet, "/lmtp/sessions"); code != http.StatusOK || strings.TrimSpace(string(list)) != "[]" {
				t.Errorf("GET /lmtp/sessions: %d %s, want 200 []", code, list)
			}

			// curl reads the same bytes as poplib.
			curl := requireTool(t, "curl", "curl")
			first := popFetch(t, s.server, "alice")[0]
			if got := curlRun(t, curl, pop3URL(s.server, "alice", testPassword, "1")); got != string(first) {
				t.Errorf("curl RETR 1 = %q, poplib read %q", got, first)
			}
		})
	}
}

func TestLMTPPythonSmtplib(t *testing.T) {
	t.Parallel()
	python := requireTool(t, "python3", "python3")
	script, err := filepath.Abs(filepath.Join("testdata", "lmtp_smtplib.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range lmtpBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := startLMTPServer(t, b.storage, "")
			letter := crlf(testLetter("smtplib-"+b.name+"@test.example", "smtplib"))
			file := filepath.Join(s.Dir, "letter.eml")
			if err := os.WriteFile(file, []byte(letter), 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := runCommand(t, "", nil, python, script, "127.0.0.1", strconv.Itoa(s.LMTPPort),
				"sender@example.com", file, "alice@example.com", "nobody@elsewhere.test", "../x@example.com", "carol@example.com")
			if code != 0 {
				t.Fatalf("lmtp_smtplib.py: exit %d\n%s", code, stderr)
			}
			var got struct {
				LHLO []json.RawMessage `json:"lhlo"`
				RCPT map[string][2]any `json:"rcpt"`
				Data map[string][2]any `json:"data"`
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%q: %v", stdout, err)
			}
			var exts []string
			if len(got.LHLO) == 2 {
				_ = json.Unmarshal(got.LHLO[1], &exts)
			}
			for _, want := range []string{"8bitmime", "chunking", "enhancedstatuscodes", "pipelining", "size", "smtputf8"} {
				if !strings.Contains(strings.Join(exts, " "), want) {
					t.Errorf("LHLO extensions %v lack %s", exts, want)
				}
			}
			wantRcpt := map[string]float64{"alice@example.com": 250, "nobody@elsewhere.test": 550, "../x@example.com": 550, "carol@example.com": 250}
			for r, code := range wantRcpt {
				if got.RCPT[r][0] != code {
					t.Errorf("RCPT %s: %v, want %v", r, got.RCPT[r], code)
				}
			}
			for _, r := range []string{"alice@example.com", "carol@example.com"} {
				if got.Data[r][0] != float64(250) {
					t.Errorf("reply after DATA for %s: %v, want 250", r, got.Data[r])
				}
			}
			inv := newLMTPInventory()
			inv.expect("alice", []byte(traced("sender@example.com", "alice@example.com", letter)))
			inv.expect("carol", []byte(traced("sender@example.com", "carol@example.com", letter)))
			inv.check(t, s.server, []string{"alice", "bob", "carol"}, identity)
		})
	}
}

func TestLMTPDropMidDataStoresNothing(t *testing.T) {
	t.Parallel()
	for _, b := range lmtpBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := startLMTPServer(t, b.storage, "")
			c, err := net.DialTimeout("tcp", s.LMTPAddr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(c)
			replies := 0
			readReply := func() string {
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						t.Fatalf("reading: %v", err)
					}
					if len(line) < 4 || line[3] != '-' {
						replies++
						return line
					}
				}
			}
			readReply() // greeting
			for _, cmd := range []string{"LHLO mta.test", "MAIL FROM:<s@example.com>", "RCPT TO:<alice@example.com>", "DATA"} {
				fmt.Fprintf(c, "%s\r\n", cmd)
				readReply()
			}
			fmt.Fprintf(c, "Message-ID: <cut@test>\r\nSubject: cut\r\n\r\nhalf a mess")
			c.Close()
			// The session ends with the drop; then alice's maildrop is
			// still empty.
			if probeLMTP(s.LMTPAddr) != nil {
				t.Fatal("the server stopped answering")
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(s.out.String(), `"msg":"message not received"`) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if n := len(popFetch(t, s.server, "alice")); n != 0 {
				t.Fatalf("alice has %d messages after a drop mid-DATA, want 0", n)
			}
		})
	}
}

// lmtpTLSConfigJSON is a JSON config (the handler's JSON form) with a
// plain pop3 listener and two lmtp listeners on one maildir, one with
// STARTTLS and one with implicit TLS, the test certificate loaded into
// Caddy's tls app.
func lmtpTLSConfigJSON(t *testing.T, adminPort, pop3Port, startTLSPort, implicitPort int, mailRoot string, cert *testCert) string {
	t.Helper()
	type obj = map[string]any
	store := obj{"module": "maildir", "path": mailRoot + "/{pop3.user}/Maildir"}
	lmtp := func(port int, mode string) obj {
		return obj{
			"listen": []string{"127.0.0.1:" + strconv.Itoa(port)},
			"routes": []obj{{"handle": []obj{{
				"handler": "lmtp", "hostname": "127.0.0.1", mode: obj{}, "storage": store,
				"strip_domain": true, "domains": []string{"example.com"},
			}}}},
		}
	}
	cfg := obj{
		"admin": obj{"listen": "127.0.0.1:" + strconv.Itoa(adminPort)},
		"apps": obj{
			"tls": obj{"certificates": obj{"load_files": []obj{{"certificate": cert.CertFile, "key": cert.KeyFile}}}},
			"layer4": obj{"servers": obj{
				"pop3": obj{
					"listen": []string{"127.0.0.1:" + strconv.Itoa(pop3Port)},
					"routes": []obj{{"handle": []obj{{
						"handler": "pop3", "hostname": testHostname, "storage": store,
						"auth": obj{"module": "accounts", "hash": obj{"algorithm": "bcrypt"},
							"accounts": []obj{{"username": testUser, "password": testPasswordHash(t)}}},
					}}}},
				},
				"lmtp-starttls": lmtp(startTLSPort, "starttls"),
				"lmtp-tls":      lmtp(implicitPort, "implicit_tls"),
			}},
		},
	}
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestLMTPTLS(t *testing.T) {
	t.Parallel()
	python := requireTool(t, "python3", "python3")
	script, err := filepath.Abs(filepath.Join("testdata", "lmtp_smtplib.py"))
	if err != nil {
		t.Fatal(err)
	}
	cert := newTestCert(t)
	dir := t.TempDir()
	var startTLSPort, implicitPort int
	s := retryStart(t, func() (*server, error) {
		adminPort, pop3Port := freePort(t), freePort(t)
		startTLSPort, implicitPort = freePort(t), freePort(t)
		s := &server{Addr: fmt.Sprintf("127.0.0.1:%d", pop3Port), Port: pop3Port, MailRoot: filepath.Join(dir, "mail"),
			Dir: dir, out: &lockedBuffer{}, exited: make(chan struct{})}
		home := filepath.Join(dir, "home")
		for _, d := range []string{s.MailRoot, home} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		config := filepath.Join(dir, "caddy.json")
		text := lmtpTLSConfigJSON(t, adminPort, pop3Port, startTLSPort, implicitPort, s.MailRoot, cert)
		if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
			return nil, err
		}
		return s, s.launch(t, []string{"run", "--config", config}, home, s.waitReady)
	})
	inv := newLMTPInventory()
	for _, mode := range []struct {
		name string
		port int
	}{{"starttls", startTLSPort}, {"implicit", implicitPort}} {
		letter := crlf(testLetter("tls-"+mode.name+"@test.example", "over "+mode.name))
		file := filepath.Join(dir, mode.name+".eml")
		if err := os.WriteFile(file, []byte(letter), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runCommand(t, "", []string{"LMTP_TLS=" + mode.name, "LMTP_CAFILE=" + cert.CertFile},
			python, script, "127.0.0.1", strconv.Itoa(mode.port), "sender@example.com", file, "alice@example.com")
		if code != 0 {
			t.Fatalf("%s: lmtp_smtplib.py exit %d\n%s", mode.name, code, stderr)
		}
		if !strings.Contains(stdout, `"alice@example.com": [250, "2.0.0 <alice@example.com> Delivered"]`) {
			t.Errorf("%s: replies %s, want 250 for alice after DATA", mode.name, stdout)
		}
		inv.expect("alice", []byte(traced("sender@example.com", "alice@example.com", letter)))
	}
	inv.check(t, s, []string{"alice"}, identity)
}
