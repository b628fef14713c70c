package pop3test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Client is a POP3 connection that fails the test on any error: a read
// or write that fails or passes its deadline, a line not ending in CRLF,
// a greeting or login that is not +OK. Its methods call t.Fatal, so they
// belong to the test's goroutine; use a [Conn] elsewhere.
type Client struct {
	t        testing.TB
	c        *Conn
	greeting string
	greeted  bool
}

// New wraps conn, which the test's cleanup closes. It reads nothing, so
// that the test can send a PROXY header or read the greeting itself
// (Greeting). It sets a deadline DefaultTimeout away on conn, so that
// what a test reads and writes past c's methods is bounded too; each
// method of c then sets its own.
func New(t testing.TB, conn net.Conn) *Client {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(DefaultTimeout))
	return &Client{t: t, c: NewConn(conn)}
}

// Dial connects to addr over TCP and reads the greeting, which must be
// +OK.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	return DialTimeout(t, addr, DefaultTimeout)
}

// DialTimeout is Dial with timeout, instead of DefaultTimeout, for the
// connection and then for every read and write.
func DialTimeout(t testing.TB, addr string, timeout time.Duration) *Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatalf("pop3test: dial %s: %v", addr, err)
	}
	c := New(t, conn)
	c.SetTimeout(timeout)
	c.Greeting()
	return c
}

// DialTLS connects to addr over TLS with cfg (implicit TLS, POP3S) and
// reads the greeting, which must be +OK.
func DialTLS(t testing.TB, addr string, cfg *tls.Config) *Client {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: DefaultTimeout}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("pop3test: TLS handshake with %s: %v", addr, err)
	}
	c := New(t, conn)
	c.Greeting()
	return c
}

// Greeting returns the server's greeting without CRLF. The first call
// reads it and fails the test unless it starts with "+OK"; later calls
// return it again.
func (c *Client) Greeting() string {
	c.t.Helper()
	if !c.greeted {
		c.greeting = c.ReadLine()
		c.greeted = true
		if !strings.HasPrefix(c.greeting, "+OK") {
			c.t.Fatalf("pop3test: greeting: %q", c.greeting)
		}
	}
	return c.greeting
}

// SetTimeout sets the deadline of each later read and write to d from its
// start (DefaultTimeout until then).
func (c *Client) SetTimeout(d time.Duration) { c.c.SetTimeout(d) }

// Conn returns the connection under c, for addresses, half-closes and
// deadlines of the test's own (each read and write of c sets its own).
func (c *Client) Conn() net.Conn { return c.c.NetConn() }

// Reader returns the buffered reader c reads through: bytes a test reads
// past c's methods must come from it.
func (c *Client) Reader() *bufio.Reader { return c.c.Reader() }

// SetConn replaces the connection under c by conn, which usually wraps
// it; the test fails if data received is still unread.
func (c *Client) SetConn(conn net.Conn) {
	c.t.Helper()
	c.check(c.c.SetConn(conn))
}

// Unchecked returns the Conn under c, whose methods return errors instead
// of failing the test: for the reads and writes a test expects may fail
// (the server killed on purpose).
func (c *Client) Unchecked() *Conn { return c.c }

// check fails the test if err is not nil.
func (c *Client) check(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

// Send writes raw as it is: no line ending is added.
func (c *Client) Send(raw string) {
	c.t.Helper()
	c.check(c.c.Send(raw))
}

// ReadLine reads one CRLF-terminated line and returns it without the
// CRLF.
func (c *Client) ReadLine() string {
	c.t.Helper()
	l, err := c.c.ReadLine()
	c.check(err)
	return l
}

// Expect reads one line and reports an error through t, naming what was
// expected, unless it starts with prefix; it returns the line. For
// replies to pipelined commands.
func (c *Client) Expect(what, prefix string) string {
	c.t.Helper()
	l := c.ReadLine()
	ExpectPrefix(c.t, what, l, prefix)
	return l
}

// ReadUntilClose reads lines until the server closes the connection (or
// resets it) and returns them without CRLF.
func (c *Client) ReadUntilClose() []string {
	c.t.Helper()
	lines, err := c.c.ReadUntilClose()
	c.check(err)
	return lines
}

// Cmd sends line with CRLF and returns the reply's first line.
func (c *Client) Cmd(line string) string {
	c.t.Helper()
	r, err := c.c.Cmd(line)
	c.check(err)
	return r
}

// MultiLines reads the body of a multi-line response, after its status
// line, and returns its lines without CRLF, dot-stuffing undone.
func (c *Client) MultiLines() []string {
	c.t.Helper()
	lines, err := c.c.ReadMulti()
	c.check(err)
	return lines
}

// Multi reads the body of a multi-line response, after its status line,
// and returns it with dot-stuffing undone and every line ending in CRLF.
func (c *Client) Multi() string {
	c.t.Helper()
	var b strings.Builder
	c.CopyMulti(&b)
	return b.String()
}

// CopyMulti reads the body of a multi-line response, after its status
// line, and writes it to w with dot-stuffing undone and every line ending
// in CRLF, without keeping it (a hash of a large message); it returns the
// octets written.
func (c *Client) CopyMulti(w io.Writer) int64 {
	c.t.Helper()
	n, err := c.c.CopyMulti(w)
	c.check(err)
	return n
}

// Capa sends CAPA, which must be answered +OK, and returns the
// capability lines.
func (c *Client) Capa() []string {
	c.t.Helper()
	ExpectPrefix(c.t, "CAPA", c.Cmd("CAPA"), "+OK")
	return strings.Split(strings.TrimSuffix(c.Multi(), "\r\n"), "\r\n")
}

// Login sends USER and PASS and fails the test unless both replies are
// +OK.
func (c *Client) Login(user, password string) {
	c.t.Helper()
	if r := c.LoginReply(user, password); !strings.HasPrefix(r, "+OK") {
		c.t.Fatalf("pop3test: PASS: %q", r)
	}
}

// LoginReply sends USER, which must be answered +OK, then PASS, and
// returns the reply to PASS: for tests of logins that must fail.
func (c *Client) LoginReply(user, password string) string {
	c.t.Helper()
	if r := c.Cmd("USER " + user); !strings.HasPrefix(r, "+OK") {
		c.t.Fatalf("pop3test: USER: %q", r)
	}
	return c.Cmd("PASS " + password)
}

// StartTLS sends STLS, which must be answered +OK, and upgrades the
// connection (Upgrade).
func (c *Client) StartTLS(cfg *tls.Config) {
	c.t.Helper()
	ExpectPrefix(c.t, "STLS", c.Cmd("STLS"), "+OK")
	c.Upgrade(cfg)
}

// Upgrade does the client side of the TLS handshake after the +OK to
// STLS. The test fails if the server sent anything after that +OK (a
// reply that a man in the middle could have injected) or the handshake
// fails.
func (c *Client) Upgrade(cfg *tls.Config) {
	c.t.Helper()
	if n := c.Reader().Buffered(); n > 0 {
		c.t.Fatalf("pop3test: the server sent %d more bytes after +OK to STLS", n)
	}
	tc := tls.Client(c.Conn(), cfg)
	_ = tc.SetDeadline(time.Now().Add(c.c.timeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("pop3test: TLS handshake: %v", err)
	}
	c.SetConn(tc)
}

// ExpectPrefix reports an error through t, naming what was checked,
// unless got starts with want. The test goes on.
func ExpectPrefix(t testing.TB, what, got, want string) {
	t.Helper()
	if !strings.HasPrefix(got, want) {
		t.Errorf("%s: got %q, want prefix %q", what, got, want)
	}
}
