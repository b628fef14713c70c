// Package pop3test is the POP3 client of this module's tests: unit tests
// of the engine and the Caddy adapter, the end-to-end tests against the
// real binary and the Go benchmarks all talk POP3 through it.
//
// A [Conn] returns errors, for goroutines and for load where connections
// are cut on purpose; a [Client] wraps one and fails the test through
// testing.TB instead. Both bound every read and every write with a
// deadline, so that a server that stops answering fails the test instead
// of hanging it.
//
// It is a support package for tests, not a POP3 client library: it sends
// what it is told, byte for byte, and hands back the lines it reads.
package pop3test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds each read and each write of a [Conn] or [Client]
// until SetTimeout changes it.
const DefaultTimeout = 10 * time.Second

// maxMultiLines bounds the lines of one multi-line response, so that a
// server that never sends the final "." cannot grow a test without end.
const maxMultiLines = 1 << 24

// crlf ends every line POP3 sends.
var crlf = []byte("\r\n")

// Conn is a POP3 connection that returns errors instead of failing a
// test. Its methods are not safe for concurrent use.
type Conn struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
	wbuf    []byte
}

// NewConn wraps conn. It reads nothing: the greeting is the caller's to
// read (ReadLine), so that it can send a PROXY header first.
func NewConn(conn net.Conn) *Conn {
	return &Conn{conn: conn, r: bufio.NewReader(conn), timeout: DefaultTimeout}
}

// NewConnSize is NewConn with a read buffer of size bytes.
func NewConnSize(conn net.Conn, size int) *Conn {
	return &Conn{conn: conn, r: bufio.NewReaderSize(conn, size), timeout: DefaultTimeout}
}

// Reset makes c talk over conn, keeping its buffers (a benchmark reuses
// one Conn for many sessions) and its timeout; what was buffered from the
// old connection is dropped.
func (c *Conn) Reset(conn net.Conn) {
	c.conn = conn
	c.r.Reset(conn)
}

// SetTimeout sets the deadline of each later read and write to d from its
// start; 0 sets none (benchmarks).
func (c *Conn) SetTimeout(d time.Duration) { c.timeout = d }

// NetConn returns the connection under c, for what POP3 does not cover:
// addresses, half-closes, deadlines of the caller's own.
func (c *Conn) NetConn() net.Conn { return c.conn }

// Reader returns the buffered reader c reads through: what a test reads
// past c's methods (a raw byte, everything until the server closes) must
// come from it, since it may hold data already received.
func (c *Conn) Reader() *bufio.Reader { return c.r }

// SetConn replaces the connection under c by conn, which usually wraps
// it (a TLS client, a counting connection). Data received but not yet
// read is an error: it would be lost.
func (c *Conn) SetConn(conn net.Conn) error {
	if n := c.r.Buffered(); n > 0 {
		return fmt.Errorf("pop3test: %d octets received and not read before switching connections", n)
	}
	c.Reset(conn)
	return nil
}

// deadline sets a deadline c.timeout from now with set (none when the
// timeout is 0: benchmarks measure the server, not the client's timers).
// An error is ignored: it means the connection is closed (net.Pipe
// refuses deadlines once the other end is), which the read or write then
// reports, after what was already buffered.
func (c *Conn) deadline(set func(time.Time) error) {
	if c.timeout <= 0 {
		return
	}
	_ = set(time.Now().Add(c.timeout))
}

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// Send writes s as it is: no line ending is added.
func (c *Conn) Send(s string) error {
	c.deadline(c.conn.SetWriteDeadline)
	if _, err := c.conn.Write([]byte(s)); err != nil {
		return fmt.Errorf("pop3test: sending %q: %w", s, err)
	}
	return nil
}

// sendLine writes line and CRLF in one write, without allocating.
func (c *Conn) sendLine(line string) error {
	c.deadline(c.conn.SetWriteDeadline)
	c.wbuf = append(append(c.wbuf[:0], line...), crlf...)
	if _, err := c.conn.Write(c.wbuf); err != nil {
		return fmt.Errorf("pop3test: sending %q: %w", line, err)
	}
	return nil
}

// readLine reads one CRLF-terminated line and returns it without the
// CRLF, in a slice valid until the next read.
func (c *Conn) readLine() ([]byte, error) {
	c.deadline(c.conn.SetReadDeadline)
	l, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), l...)
		for errors.Is(err, bufio.ErrBufferFull) {
			l, err = c.r.ReadSlice('\n')
			long = append(long, l...)
		}
		l = long
	}
	if err != nil {
		return nil, fmt.Errorf("pop3test: reading a line: %w (got %q)", err, l)
	}
	if !bytes.HasSuffix(l, crlf) {
		return nil, fmt.Errorf("pop3test: line %q does not end with CRLF", l)
	}
	return l[:len(l)-2], nil
}

// ReadLine reads one CRLF-terminated line and returns it without the
// CRLF. A line ending in a bare LF is an error.
func (c *Conn) ReadLine() (string, error) {
	l, err := c.readLine()
	return string(l), err
}

// Cmd sends line with CRLF and returns the first line of the reply.
func (c *Conn) Cmd(line string) (string, error) {
	if err := c.sendLine(line); err != nil {
		return "", err
	}
	return c.ReadLine()
}

// ReplyError is a reply that is not the +OK a command needed.
type ReplyError struct {
	// Cmd is the command's keyword.
	Cmd string
	// Reply is the reply line, without CRLF.
	Reply string
}

// Error returns the keyword and the reply.
func (e *ReplyError) Error() string { return e.Cmd + ": " + e.Reply }

// OK sends line with CRLF and returns a *ReplyError unless the reply
// starts with "+OK". It allocates nothing when it does.
func (c *Conn) OK(line string) error {
	if err := c.sendLine(line); err != nil {
		return err
	}
	r, err := c.readLine()
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(r, []byte("+OK")) {
		keyword, _, _ := strings.Cut(line, " ")
		return &ReplyError{Cmd: keyword, Reply: string(r)}
	}
	return nil
}

// ReadMulti reads the body of a multi-line response, after its status
// line, up to the line ".": it returns the lines without CRLF, with the
// dot-stuffing undone (a leading "." removed).
func (c *Conn) ReadMulti() ([]string, error) {
	var lines []string
	err := c.body(func(l []byte) error {
		lines = append(lines, string(l[:len(l)-2]))
		return nil
	})
	return lines, err
}

// CopyMulti reads the body of a multi-line response like ReadMulti and
// writes it to w with dot-stuffing undone and every line ending in CRLF;
// it returns the octets written. With io.Discard it allocates nothing:
// what a benchmark needs.
func (c *Conn) CopyMulti(w io.Writer) (int64, error) {
	var n int64
	err := c.body(func(l []byte) error {
		m, err := w.Write(l)
		n += int64(m)
		return err
	})
	return n, err
}

// body calls f with each line of a multi-line body up to the line ".",
// dot-stuffing undone and CRLF kept, in a slice valid until f returns.
func (c *Conn) body(f func(line []byte) error) error {
	for range maxMultiLines {
		l, err := c.readLine()
		if err != nil {
			return err
		}
		if len(l) == 1 && l[0] == '.' {
			return nil
		}
		// The CRLF that readLine cut off is still in the slice.
		if err := f(bytes.TrimPrefix(l[:len(l)+2], []byte("."))); err != nil {
			return err
		}
	}
	return errors.New("pop3test: multi-line response without an end")
}

// ReadUntilClose reads lines until the server closes the connection and
// returns them without CRLF. A reset counts as closed: a server that
// closes with input unread resets. Anything else, a last line cut short
// included, is an error.
func (c *Conn) ReadUntilClose() ([]string, error) {
	var lines []string
	for range maxMultiLines {
		c.deadline(c.conn.SetReadDeadline)
		l, err := c.r.ReadString('\n')
		if l == "" && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			return lines, nil
		}
		if err != nil {
			return lines, fmt.Errorf("pop3test: reading until the server closes: %w (got %q after %d lines)", err, l, len(lines))
		}
		lines = append(lines, strings.TrimSuffix(l, "\r\n"))
	}
	return lines, errors.New("pop3test: the server does not close the connection")
}
