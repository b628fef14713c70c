//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"golang.org/x/crypto/bcrypt"
)

// bobPassword is the password of bob, the second account of the hostile
// input tests.
const bobPassword = "bobs-password"

// twoAccounts is an auth directive with alice and bob.
func twoAccounts(t *testing.T) string {
	t.Helper()
	bob, err := bcrypt.GenerateFromPassword([]byte(bobPassword), bcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	return "auth accounts bcrypt {\n\t\t\t\t\t\t" + testUser + " " + testPasswordHash(t) +
		"\n\t\t\t\t\t\tbob " + string(bob) + "\n\t\t\t\t\t}"
}

// isFixtureText reports whether text is one of the fixture messages.
func isFixtureText(text string) bool {
	for _, m := range fixture {
		if m.Text() == text {
			return true
		}
	}
	return false
}

// loginPipelined sends USER and PASS for user in one write and expects
// +OK to both.
func loginPipelined(t *testing.T, c *pop3test.Client, user, password string) {
	t.Helper()
	c.Send("USER " + user + "\r\nPASS " + password + "\r\n")
	c.Expect("USER", "+OK")
	c.Expect("PASS", "+OK")
}

// closeWrite half-closes c's TCP connection: the server reads EOF.
func closeWrite(c *pop3test.Client) {
	_ = c.Conn().(*net.TCPConn).CloseWrite()
}

// assertServes checks that the server still serves a normal client.
func assertServes(t *testing.T, s *server) {
	t.Helper()
	c := dialPOP3(t, s.Addr)
	if r := c.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("normal login after hostile input: %q", r)
	}
	if r := c.Cmd("STAT"); !strings.HasPrefix(r, "+OK 3 ") {
		t.Errorf("STAT after hostile input: %q", r)
	}
	if r := c.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Errorf("QUIT after hostile input: %q", r)
	}
}

func TestHostileInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{auth: twoAccounts(t)})
	deliverFixture(t, s.Maildir(testUser))

	garbage := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, c *pop3test.Client)
	}{
		{"binary garbage", func(t *testing.T, c *pop3test.Client) {
			c.Send(string(garbage))
			closeWrite(c)
			for _, l := range c.ReadUntilClose() {
				if !strings.HasPrefix(l, "-ERR ") {
					t.Fatalf("answer to garbage: %q", l)
				}
			}
		}},
		{"NUL bytes", func(t *testing.T, c *pop3test.Client) {
			c.Send("\x00\x00\x00\r\nUS\x00R alice\r\nUSER al\x00ice\r\nPASS \x00" + testPassword + "\r\nQUIT\r\n")
			c.Expect("NULs", "-ERR")
			c.Expect("NUL in keyword", "-ERR")
			c.Expect("NUL in name", "+OK")
			c.Expect("PASS", "-ERR [AUTH]")
			c.Expect("QUIT", "+OK")
		}},
		{"invalid UTF-8", func(t *testing.T, c *pop3test.Client) {
			c.Send("USER \xff\xfe\xc3\x28\r\nPASS \xed\xa0\x80\r\n\xc3\x28\xa0\xa1\r\nQUIT\r\n")
			c.Expect("USER", "+OK")
			c.Expect("PASS", "-ERR [AUTH]")
			c.Expect("junk", "-ERR")
			c.Expect("QUIT", "+OK")
		}},
		{"bare LF", func(t *testing.T, c *pop3test.Client) {
			c.Send("USER " + testUser + "\nPASS " + testPassword + "\nSTAT\nLIST 1\nQUIT\n")
			c.Expect("USER", "+OK")
			c.Expect("PASS", "+OK")
			c.Expect("STAT", "+OK 3 ")
			c.Expect("LIST 1", "+OK 1 ")
			c.Expect("QUIT", "+OK")
		}},
		{"huge numbers", func(t *testing.T, c *pop3test.Client) {
			loginPipelined(t, c, testUser, testPassword)
			for _, cmd := range []string{
				"RETR 99999999999999999999999999", "LIST 18446744073709551616", "UIDL 9223372036854775807",
				"DELE -1", "TOP 1 -5", "TOP 1 99999999999999999999", "RETR 0", "RETR 4",
			} {
				c.Send(cmd + "\r\n")
				c.Expect(cmd, "-ERR")
			}
			c.Send("TOP 3 999999999999999999\r\n")
			c.Expect("TOP with a huge but valid count", "+OK")
			if got := lfText(c.MultiLines()); !isFixtureText(got) {
				t.Errorf("TOP 3 999999999999999999: got %q, want a whole message", got)
			}
			c.Send("QUIT\r\n")
			c.Expect("QUIT", "+OK")
		}},
		{"thousands of commands in one write", func(t *testing.T, c *pop3test.Client) {
			const n = 5000
			loginPipelined(t, c, testUser, testPassword)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = c.Conn().Write([]byte(strings.Repeat("NOOP\r\n", n) + "STAT\r\nQUIT\r\n"))
			}()
			for i := range n {
				if l := c.ReadLine(); l != "+OK" {
					t.Fatalf("NOOP %d: %q", i+1, l)
				}
			}
			c.Expect("STAT", "+OK 3 ")
			c.Expect("QUIT", "+OK")
			wg.Wait()
		}},
		{"half-closed after the commands", func(t *testing.T, c *pop3test.Client) {
			c.Send("CAPA\r\nUSER " + testUser + "\r\nPASS " + testPassword + "\r\nSTAT\r\nQUIT\r\n")
			closeWrite(c)
			lines := c.ReadUntilClose()
			if len(lines) < 5 || !strings.HasPrefix(lines[len(lines)-1], "+OK") || !strings.HasPrefix(lines[len(lines)-2], "+OK 3 ") {
				t.Errorf("answers to a half-closed client: %q", lines)
			}
		}},
		{"half-closed without QUIT", func(t *testing.T, c *pop3test.Client) {
			loginPipelined(t, c, testUser, testPassword)
			c.Send("DELE 1\r\nDELE 2\r\n")
			closeWrite(c)
			if lines := c.ReadUntilClose(); len(lines) != 2 {
				t.Errorf("answers before the server closed: %q", lines)
			}
			assertUIDsOnDisk(t, s.Maildir(testUser), fixtureUIDs())
		}},
		{"half-closed mid-line", func(t *testing.T, c *pop3test.Client) {
			c.Send("USER " + testUser)
			closeWrite(c)
			if lines := c.ReadUntilClose(); len(lines) != 0 {
				t.Errorf("answers to an unfinished line: %q", lines)
			}
		}},
		{"over-long lines", func(t *testing.T, c *pop3test.Client) {
			long := strings.Repeat("A", 100<<10)
			c.Send("USER " + long + "\r\nAUTH PLAIN " + long + "\r\nNOOP" + long + "\r\nQUIT\r\n")
			for range 3 {
				c.Expect("over-long line", "-ERR line too long")
			}
			c.Expect("QUIT", "+OK")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, dialPOP3(t, s.Addr))
			assertServes(t, s)
		})
	}
}

// writeBigMessage puts a message of about size octets into maildir's new/.
func writeBigMessage(t *testing.T, maildir string, size int) string {
	t.Helper()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	const uid = "1700000100.M1P1.big"
	f, err := os.Create(filepath.Join(maildir, "new", uid))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "From: big@example.org\nSubject: big\n\n")
	line := strings.Repeat("0123456789", 9) + "abcdefghi\n"
	for n := 0; n < size; n += len(line) {
		w.WriteString(line)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return uid
}

// rssKiB returns the resident set size of process pid, in KiB.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB$`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestStalledReader: a client asks for a 50 MB message and stops reading.
// The server must neither buffer the message (its RSS stays far below the
// message size) nor stall other sessions; once the client goes, its
// maildrop is free again and nothing was deleted.
func TestStalledReader(t *testing.T) {
	t.Parallel()
	const size = 50 << 20
	s := startServer(t, serverOptions{auth: twoAccounts(t)})
	big := writeBigMessage(t, s.Maildir(testUser), size)
	deliverFixture(t, s.Maildir("bob"))
	pid := s.cmd.Process.Pid

	// Warm up: a whole session with a message, so that buffers and code
	// paths are in place before the baseline.
	warm := dialPOP3(t, s.Addr)
	loginPipelined(t, warm, "bob", bobPassword)
	warm.Send("RETR 1\r\nQUIT\r\n")
	warm.Expect("RETR", "+OK")
	warm.MultiLines()
	warm.Expect("QUIT", "+OK")
	baseline := rssKiB(t, pid)

	stalled := dialPOP3(t, s.Addr)
	loginPipelined(t, stalled, testUser, testPassword)
	stalled.Send("DELE 1\r\nRSET\r\nRETR 1\r\n")
	stalled.Expect("DELE", "+OK")
	stalled.Expect("RSET", "+OK")
	stalled.Expect("RETR", "+OK")
	// Read no more. Another client is served meanwhile.
	other := dialPOP3(t, s.Addr)
	loginPipelined(t, other, "bob", bobPassword)
	other.Send("STAT\r\nRETR 2\r\nQUIT\r\n")
	other.Expect("STAT", "+OK 3 ")
	other.Expect("RETR", "+OK")
	if got := lfText(other.MultiLines()); !isFixtureText(got) {
		t.Errorf("RETR while another session stalls: %q", got)
	}
	other.Expect("QUIT", "+OK")

	peak := 0
	for range 10 {
		peak = max(peak, rssKiB(t, pid))
		time.Sleep(100 * time.Millisecond)
	}
	const allowedKiB = 16 << 10 // 16 MiB, a third of the message
	if grew := peak - baseline; grew > allowedKiB {
		t.Errorf("server RSS grew by %d KiB while a 50 MiB message waited for a stalled reader (allowed %d KiB)", grew, allowedKiB)
	}
	t.Logf("RSS baseline %d KiB, peak while stalled %d KiB", baseline, peak)

	stalled.Conn().Close()
	// The server notices the client is gone at its next write, then
	// releases the maildrop.
	deadline := time.Now().Add(ioTimeout)
	for {
		c := dialPOP3(t, s.Addr)
		r := c.LoginReply(testUser, testPassword)
		if strings.HasPrefix(r, "+OK") {
			if st := c.Cmd("STAT"); !strings.HasPrefix(st, "+OK 1 ") {
				t.Errorf("STAT after the stalled session: %q", st)
			}
			c.Cmd("QUIT")
			break
		}
		if !strings.HasPrefix(r, "-ERR [IN-USE]") || time.Now().After(deadline) {
			t.Fatalf("login after the stalled client left: %q", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	assertUIDsOnDisk(t, s.Maildir(testUser), []string{big})
}

// TestFail2banFilter runs fail2ban-regex with examples/fail2ban's filter on
// the log of a real server after failed logins, one of them with a user
// name crafted to inject another address.
func TestFail2banFilter(t *testing.T) {
	t.Parallel()
	f2b := requireTool(t, "fail2ban-regex", "fail2ban")
	s := startServer(t, serverOptions{})
	c := dialPOP3(t, s.Addr)
	c.Send("USER " + testUser + "\r\nPASS not-" + testPassword + "\r\n")
	c.Expect("USER", "+OK")
	c.Expect("PASS", "-ERR [AUTH] Authentication failed")
	c.Send(`USER x","remote_ip":"198.51.100.1` + "\r\nPASS x\r\n")
	c.Expect("USER", "+OK")
	c.Expect("PASS", "-ERR [AUTH] Authentication failed")
	c.Send("USER " + testUser + "\r\nPASS " + testPassword + "\r\nQUIT\r\n")
	c.Expect("USER", "+OK")
	c.Expect("PASS", "+OK")
	c.Expect("QUIT", "+OK")

	logFile := filepath.Join(t.TempDir(), "caddy.log")
	out := s.out.String()
	if err := os.WriteFile(logFile, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	filter, err := filepath.Abs(filepath.Join("..", "examples", "fail2ban", "filter.d", "caddy-pop3.conf"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCommand(t, "", nil, f2b, "--print-all-matched", logFile, filter)
	if code != 0 {
		t.Fatalf("fail2ban-regex: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`(?m)^Lines: \d+ lines, 0 ignored, 2 matched`).MatchString(stdout) {
		t.Errorf("fail2ban-regex did not match exactly the 2 failed logins:\n%s", stdout)
	}
	if !strings.Contains(stdout, "127.0.0.1") || strings.Contains(stdout, "198.51.100.1  ") {
		t.Errorf("fail2ban-regex found the wrong addresses:\n%s", stdout)
	}
	if strings.Contains(out, "not-"+testPassword) {
		t.Error("the server log contains a password")
	}
}
