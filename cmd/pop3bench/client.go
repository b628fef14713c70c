package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"strconv"
	"time"
)

// castagnoli is the CRC-32C table; the CPU computes it in hardware, so
// checking content costs the client little.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxStatusLine bounds a status or listing line; RFC 2449 allows 512
// octets for a response line.
const maxStatusLine = 4096

// errServer is a -ERR answer (or an unexpected answer) from the server: an
// error of the run, not of the data.
type errServer struct {
	cmd  string
	line string
}

func (e *errServer) Error() string { return e.cmd + ": " + e.line }

// integrityError is wrong data from the server: a wrong size, content that
// differs from the source, bad dot-stuffing or a bare LF.
type integrityError struct{ msg string }

func (e *integrityError) Error() string { return "integrity: " + e.msg }

func integrityf(format string, args ...any) error {
	return &integrityError{msg: fmt.Sprintf(format, args...)}
}

// client is one POP3 connection.
type client struct {
	conn    net.Conn
	r       *bufio.Reader
	line    []byte // the command being sent
	timeout time.Duration

	deadlineSet time.Time // when the deadline was last set
}

// dial connects to addr and reads the greeting. The client reads through
// r, which a worker reuses from session to session; nil makes a new one of
// bufSize bytes.
func dial(addr string, timeout time.Duration, r *bufio.Reader, bufSize int) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := newClient(conn, timeout, r, bufSize)
	c.deadline()
	if _, err := c.status("greeting"); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// newClient wraps a connection whose greeting has not been read yet.
func newClient(conn net.Conn, timeout time.Duration, r *bufio.Reader, bufSize int) *client {
	if r == nil {
		r = bufio.NewReaderSize(conn, bufSize)
	} else {
		r.Reset(conn)
	}
	return &client{conn: conn, r: r, timeout: timeout}
}

// close closes the connection.
func (c *client) close() error { return c.conn.Close() }

// deadline bounds the exchange that begins now: a command and its whole
// answer, however long. Setting a deadline costs a timer update, so it is
// done once per command, not per line, and not again within a second of
// the last one (the bound is then up to a second shorter).
func (c *client) deadline() {
	now := time.Now()
	if !c.deadlineSet.IsZero() && now.Sub(c.deadlineSet) < time.Second {
		return
	}
	c.deadlineSet = now
	_ = c.conn.SetDeadline(now.Add(c.timeout))
}

// send writes one command line.
func (c *client) send(line string) error {
	c.deadline()
	c.line = append(append(c.line[:0], line...), '\r', '\n')
	_, err := c.conn.Write(c.line)
	return err
}

// cmd sends a command and returns the text after "+OK".
func (c *client) cmd(name, line string) (string, error) {
	if err := c.send(line); err != nil {
		return "", err
	}
	return c.status(name)
}

// readLine reads one CRLF-terminated response line and returns it without
// the CRLF.
func (c *client) readLine(what string) ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxStatusLine {
		return nil, &errServer{cmd: what, line: "response line too long"}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, integrityf("%s: response line not terminated by CRLF: %q", what, line)
	}
	return line[:len(line)-2], nil
}

// status reads a status line and returns the text after "+OK ", or an
// errServer for anything else.
func (c *client) status(what string) (string, error) {
	line, err := c.readLine(what)
	if err != nil {
		return "", err
	}
	switch {
	case bytes.Equal(line, []byte("+OK")):
		return "", nil
	case bytes.HasPrefix(line, []byte("+OK ")):
		return string(line[4:]), nil
	default:
		return "", &errServer{cmd: what, line: string(line)}
	}
}

// login authenticates with USER/PASS or AUTH PLAIN (with an initial
// response, RFC 5034; a server that answers "+ " gets the response then).
func (c *client) login(mech, user, pass string) error {
	switch mech {
	case authUserPass:
		if _, err := c.cmd("USER", "USER "+user); err != nil {
			return err
		}
		_, err := c.cmd("PASS", "PASS "+pass)
		return err
	case authPlain:
		resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
		if err := c.send("AUTH PLAIN " + resp); err != nil {
			return err
		}
		line, err := c.readLine("AUTH PLAIN")
		if err != nil {
			return err
		}
		if bytes.HasPrefix(line, []byte("+ ")) || bytes.Equal(line, []byte("+")) {
			if err := c.send(resp); err != nil {
				return err
			}
			_, err = c.status("AUTH PLAIN")
			return err
		}
		if bytes.HasPrefix(line, []byte("+OK")) {
			return nil
		}
		return &errServer{cmd: "AUTH PLAIN", line: string(line)}
	default:
		return fmt.Errorf("unknown auth mechanism %q", mech)
	}
}

// stat sends STAT and returns the message count and total size.
func (c *client) stat() (int, int64, error) {
	if err := c.send("STAT"); err != nil {
		return 0, 0, err
	}
	return c.readStat()
}

// readStat reads the answer to STAT (see stat).
func (c *client) readStat() (int, int64, error) {
	text, err := c.status("STAT")
	if err != nil {
		return 0, 0, err
	}
	f := bytes.Fields([]byte(text))
	if len(f) < 2 {
		return 0, 0, integrityf("STAT: malformed answer %q", text)
	}
	n, err1 := strconv.Atoi(string(f[0]))
	size, err2 := strconv.ParseInt(string(f[1]), 10, 64)
	if err1 != nil || err2 != nil || n < 0 || size < 0 {
		return 0, 0, integrityf("STAT: malformed answer %q", text)
	}
	return n, size, nil
}

// listing sends LIST or UIDL and returns the second field of each line,
// indexed by message number - 1. Numbers must be ascending and within
// 1..count.
func (c *client) listing(name string, count int) ([]string, error) {
	if _, err := c.cmd(name, name); err != nil {
		return nil, err
	}
	return c.readListing(name, count)
}

// sendAll writes several command lines in one write (pipelining, RFC
// 2449): the answers are read afterwards, in order.
func (c *client) sendAll(lines ...string) error {
	c.deadline()
	c.line = c.line[:0]
	for _, l := range lines {
		c.line = append(append(c.line, l...), '\r', '\n')
	}
	_, err := c.conn.Write(c.line)
	return err
}

// readListing reads the lines of a LIST or UIDL answer after its status
// line (see listing).
func (c *client) readListing(name string, count int) ([]string, error) {
	out := make([]string, count)
	last := 0
	var bad error
	for {
		line, err := c.readLine(name)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(line, []byte(".")) {
			break
		}
		if bad != nil {
			continue // read to the end to stay in step
		}
		f := bytes.Fields(line)
		if len(f) != 2 {
			bad = integrityf("%s: malformed line %q", name, line)
			continue
		}
		num, err := strconv.Atoi(string(f[0]))
		if err != nil || num <= last || num > count {
			bad = integrityf("%s: message number %q out of order or range (count %d)", name, f[0], count)
			continue
		}
		last = num
		out[num-1] = string(f[1])
	}
	if bad != nil {
		return nil, bad
	}
	if last != count {
		return nil, integrityf("%s: listed up to message %d of %d", name, last, count)
	}
	return out, nil
}

// retrieved is a message as received: its octets after undoing
// dot-stuffing (CRLF line endings, terminator excluded) and their CRC-32C.
type retrieved struct {
	size int64
	crc  uint32
}

// retr sends RETR n and reads the message, undoing dot-stuffing as it
// goes. Every line must end with CRLF and a line that begins with '.' must
// have been stuffed; the whole body is read even when it is not, so the
// session stays in step, and the first such fault is returned as an
// integrity error.
//
// It works on whatever the reader holds, not line by line: the checks look
// at two bytes per line (the one before each LF, the one after it), and
// the CRC and size are updated once per buffer, so that the load generator
// spends as little CPU as it can on the machine it shares with the server.
func (c *client) retr(n int) (retrieved, error) {
	if _, err := c.cmd("RETR", "RETR "+strconv.Itoa(n)); err != nil {
		return retrieved{}, err
	}
	return c.readBody(n)
}

// readBody reads the body of the answer to RETR n after its status line
// (see retr).
func (c *client) readBody(n int) (retrieved, error) {
	var m retrieved
	var (
		atStart = true  // the next byte begins a line
		prevCR  = false // the last byte already consumed was CR
		bad     error
	)
	for {
		if c.r.Buffered() == 0 {
			if _, err := c.r.Peek(1); err != nil {
				return m, fmt.Errorf("RETR %d: %w", n, err)
			}
		}
		buf, _ := c.r.Peek(c.r.Buffered())
		run := 0 // start of the octets not yet added to m
		pos := 0 // start of the line part not yet checked
		for pos < len(buf) {
			if atStart && buf[pos] == '.' {
				if len(buf)-pos < 3 {
					break // decided once more has arrived
				}
				if buf[pos+1] == '\r' && buf[pos+2] == '\n' {
					m.add(buf[run:pos])
					_, _ = c.r.Discard(pos + 3)
					return m, bad // ".\r\n" ends the response
				}
				if buf[pos+1] == '.' {
					m.add(buf[run:pos]) // drop the stuffed dot
					run = pos + 1
				} else if bad == nil {
					bad = integrityf("RETR %d: line begins with a single '.': %.40q", n, buf[pos:])
				}
			}
			j := bytes.IndexByte(buf[pos:], '\n')
			if j < 0 {
				atStart, prevCR = false, buf[len(buf)-1] == '\r'
				pos = len(buf)
				break
			}
			lf := pos + j
			cr := lf > 0 && buf[lf-1] == '\r' || lf == 0 && prevCR
			if !cr && bad == nil {
				bad = integrityf("RETR %d: line ends with a bare LF", n)
			}
			atStart, prevCR = true, false
			pos = lf + 1
		}
		m.add(buf[run:pos])
		_, _ = c.r.Discard(pos)
		if pos == 0 {
			// A lone line-start dot (and maybe one more byte): wait for
			// the rest before deciding.
			if _, err := c.r.Peek(3); err != nil {
				return m, fmt.Errorf("RETR %d: %w", n, err)
			}
		}
	}
}

// add counts p as received octets of the message.
func (m *retrieved) add(p []byte) {
	m.crc = crc32.Update(m.crc, castagnoli, p)
	m.size += int64(len(p))
}

// quit sends QUIT and waits for the server to close the connection, so
// that the server, not the client, holds the TIME_WAIT state.
func (c *client) quit() error {
	if _, err := c.cmd("QUIT", "QUIT"); err != nil {
		return err
	}
	return c.closedAfterQuit()
}

// closedAfterQuit waits for the server to close the connection after its
// answer to QUIT was read.
func (c *client) closedAfterQuit() error {
	c.deadline()
	_, err := c.r.ReadByte()
	switch {
	case err == nil:
		return &errServer{cmd: "QUIT", line: "server sent data after QUIT"}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &errServer{cmd: "QUIT", line: "server did not close the connection"}
	}
	return nil
}
