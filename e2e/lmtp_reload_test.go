//go:build linux

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// lmtpConn is a line-level LMTP client of the e2e tests.
type lmtpConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialLMTP(t *testing.T, addr string) *lmtpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	l := &lmtpConn{t: t, c: c, r: bufio.NewReader(c)}
	l.expect("greeting", "220 ")
	return l
}

// reply reads one reply, all its lines joined with LF.
func (l *lmtpConn) reply() (string, error) {
	var lines []string
	for {
		line, err := l.r.ReadString('\n')
		if err != nil {
			return strings.Join(lines, "\n"), err
		}
		lines = append(lines, strings.TrimRight(line, "\r\n"))
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(lines, "\n"), nil
		}
	}
}

// expect reads a reply and checks that its last line starts with want.
func (l *lmtpConn) expect(what, want string) string {
	l.t.Helper()
	r, err := l.reply()
	last := r[strings.LastIndex(r, "\n")+1:]
	if err != nil || !strings.HasPrefix(last, want) {
		l.t.Fatalf("%s: %q (%v), want %q...", what, r, err, want)
	}
	return r
}

// cmd sends a line and checks its reply.
func (l *lmtpConn) cmd(line, want string) string {
	l.t.Helper()
	fmt.Fprintf(l.c, "%s\r\n", line)
	return l.expect(line, want)
}

// TestLMTPReloadGracePeriod reloads the config while an LMTP session is in
// a transaction: the session finishes its message under the old config,
// new sessions get the new config, and once the old config's grace period
// is over the old session is closed.
func TestLMTPReloadGracePeriod(t *testing.T) {
	t.Parallel()
	s := startLMTPServer(t, lmtpBackends[0].storage, "grace_period 2s")
	old := dialLMTP(t, s.LMTPAddr)
	if lhlo := old.cmd("LHLO mta.test", "250 "); !strings.Contains(lhlo, "SIZE 52428800") {
		t.Fatalf("LHLO before the reload: %q, want SIZE 52428800", lhlo)
	}
	old.cmd("MAIL FROM:<sender@example.com>", "250 ")
	old.cmd("RCPT TO:<alice@example.com>", "250 ")

	s.reload(t, "grace_period 2s\n\t\t\t\t\tmax_message_size 1MiB")
	fresh := dialLMTP(t, s.LMTPAddr)
	if lhlo := fresh.cmd("LHLO mta.test", "250 "); !strings.Contains(lhlo, "SIZE 1048576") {
		t.Errorf("LHLO after the reload: %q, want the new config's SIZE 1048576", lhlo)
	}
	fresh.cmd("QUIT", "221 ")

	// The old session goes on under the old config for the grace period.
	letter := crlf(testLetter("reload@test.example", "across a reload"))
	old.cmd("DATA", "354 ")
	fmt.Fprintf(old.c, "%s.\r\n", strings.ReplaceAll(letter, "\r\n.", "\r\n..")) // dot-stuffed
	old.expect("reply after DATA", "250 2.0.0 <alice@example.com>")

	// Then it is closed without a word, between transactions.
	if r, err := old.reply(); !errors.Is(err, io.EOF) {
		t.Fatalf("old session got %q (%v) after the grace period, want it closed by the server", r, err)
	}
	inv := newLMTPInventory()
	inv.expect("alice", []byte(traced("sender@example.com", "alice@example.com", letter)))
	inv.check(t, s.server, []string{"alice"}, identity)
	if !strings.Contains(s.out.String(), "grace period over; stopping LMTP sessions of the old config") {
		t.Errorf("no log line for the end of the grace period")
	}
}
