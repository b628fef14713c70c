//go:build linux

package e2e

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// ioTimeout bounds every read and write of a raw POP3 connection.
const ioTimeout = 30 * time.Second

// pop3Conn is a bare POP3 connection for the few checks that need no
// client program (logging in with a freshly hashed password).
type pop3Conn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader

	// greeting is the server's first line, without CRLF.
	greeting string
}

// dialPOP3 connects to addr and checks the +OK greeting.
func dialPOP3(t *testing.T, addr string) *pop3Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	p := &pop3Conn{t: t, c: c, r: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	if p.greeting = p.readLine(); !strings.HasPrefix(p.greeting, "+OK") {
		t.Fatalf("greeting: %q", p.greeting)
	}
	return p
}

// cmd sends one command line and returns the one-line reply.
func (p *pop3Conn) cmd(line string) string {
	p.t.Helper()
	if err := p.c.SetWriteDeadline(time.Now().Add(ioTimeout)); err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.c.Write([]byte(line + "\r\n")); err != nil {
		p.t.Fatalf("sending %q: %v", line, err)
	}
	return p.readLine()
}

// readLine reads one CRLF-terminated line, without the CRLF.
func (p *pop3Conn) readLine() string {
	p.t.Helper()
	if err := p.c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		p.t.Fatal(err)
	}
	line, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("reading reply: %v (got %q)", err, line)
	}
	if !strings.HasSuffix(line, "\r\n") {
		p.t.Fatalf("reply %q does not end with CRLF", line)
	}
	return strings.TrimSuffix(line, "\r\n")
}

// login sends USER and PASS and returns the reply to PASS.
func (p *pop3Conn) login(user, password string) string {
	p.t.Helper()
	if r := p.cmd("USER " + user); !strings.HasPrefix(r, "+OK") {
		p.t.Fatalf("USER: %q", r)
	}
	return p.cmd("PASS " + password)
}
