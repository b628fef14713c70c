package pop3test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve answers each line the client sends with the next reply of
// replies, after writing greeting; it returns what the client sent.
func serve(t *testing.T, greeting string, replies ...string) (net.Conn, func() string) {
	t.Helper()
	server, client := net.Pipe()
	var got strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		_ = server.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(server, greeting); err != nil {
			return
		}
		buf := make([]byte, 4096)
		for _, r := range replies {
			n, err := server.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				return
			}
			if _, err := io.WriteString(server, r); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { client.Close(); <-done })
	return client, func() string { client.Close(); <-done; return got.String() }
}

func TestClientSession(t *testing.T) {
	long := strings.Repeat("x", 10000)
	conn, sent := serve(t, "+OK ready <1.2@host>\r\n",
		"+OK\r\n", "+OK logged in\r\n",
		"+OK 3 lines\r\nSubject: a\r\n\r\n..dot\r\n.\r\n",
		"+OK\r\n"+long+"\r\n.\r\n",
		"+OK\r\nSTLS\r\nUSER\r\n.\r\n",
		"-ERR no such message\r\n",
	)
	c := New(t, conn)
	if g := c.Greeting(); g != "+OK ready <1.2@host>" {
		t.Errorf("greeting %q", g)
	}
	if g := c.Greeting(); g != "+OK ready <1.2@host>" {
		t.Errorf("greeting read again: %q", g)
	}
	c.Login("alice", "pw with spaces")
	ExpectPrefix(t, "RETR", c.Cmd("RETR 1"), "+OK 3 lines")
	if body := c.Multi(); body != "Subject: a\r\n\r\n.dot\r\n" {
		t.Errorf("body %q, want dot-stuffing undone, CRLF kept", body)
	}
	ExpectPrefix(t, "TOP", c.Cmd("TOP 1 0"), "+OK")
	if lines := c.MultiLines(); len(lines) != 1 || lines[0] != long {
		t.Errorf("a line longer than the read buffer: %d lines", len(lines))
	}
	if caps := c.Capa(); strings.Join(caps, ",") != "STLS,USER" {
		t.Errorf("capabilities %q", caps)
	}
	if r := c.Cmd("DELE 9"); r != "-ERR no such message" {
		t.Errorf("DELE: %q", r)
	}
	want := "USER alice\r\nPASS pw with spaces\r\nRETR 1\r\nTOP 1 0\r\nCAPA\r\nDELE 9\r\n"
	if got := sent(); got != want {
		t.Errorf("sent %q, want %q", got, want)
	}
}

func TestConnErrors(t *testing.T) {
	conn, _ := serve(t, "+OK\r\n", "+OK\r\n", "-ERR [IN-USE] locked\r\n", "+OK\r\nline\r\n.\r\n", "+OK\r\n..a\r\nbc\r\n.\r\n", "bare LF\n")
	c := NewConn(conn)
	if g, err := c.ReadLine(); err != nil || g != "+OK" {
		t.Fatalf("greeting %q, %v", g, err)
	}
	if err := c.OK("USER alice"); err != nil {
		t.Errorf("USER: %v", err)
	}
	var re *ReplyError
	if err := c.OK("PASS x"); !errors.As(err, &re) || re.Cmd != "PASS" || re.Reply != "-ERR [IN-USE] locked" {
		t.Errorf("PASS: %v, want a *ReplyError", err)
	}
	if r, err := c.Cmd("UIDL"); err != nil || r != "+OK" {
		t.Fatalf("UIDL: %q, %v", r, err)
	}
	if lines, err := c.ReadMulti(); err != nil || len(lines) != 1 || lines[0] != "line" {
		t.Errorf("UIDL body %q, %v", lines, err)
	}
	if err := c.OK("RETR 1"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.CopyMulti(io.Discard); err != nil || n != int64(len(".a\r\nbc\r\n")) {
		t.Errorf("RETR: %d octets, %v; want %d", n, err, len(".a\r\nbc\r\n"))
	}
	if _, err := c.Cmd("NOOP"); err == nil || !strings.Contains(err.Error(), "does not end with CRLF") {
		t.Errorf("a line ending in a bare LF: %v", err)
	}
	if _, err := c.ReadLine(); !errors.Is(err, io.EOF) {
		t.Errorf("after the server closed: %v, want io.EOF", err)
	}
}

// TestConnTimeout: a server that says nothing fails the read at the
// deadline instead of hanging it.
func TestConnTimeout(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	c := NewConn(client)
	c.SetTimeout(50 * time.Millisecond)
	var ne net.Error
	if _, err := c.ReadLine(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("reading from a silent server: %v, want a timeout", err)
	}
}

// recorder is a testing.TB that records failures; Fatal ends the
// goroutine as testing.T's does.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.Errorf("%s", fmt.Sprint(args...))
	runtime.Goexit()
}

// failures runs f with a recorder and returns what it reported.
func failures(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.errors
}

func TestClientFails(t *testing.T) {
	for _, tc := range []struct {
		name     string
		greeting string
		replies  []string
		run      func(c *Client)
		want     string
	}{
		{"-ERR greeting", "-ERR [SYS/TEMP] busy\r\n", nil, func(c *Client) { c.Greeting() }, `greeting: "-ERR [SYS/TEMP] busy"`},
		{"USER refused", "+OK\r\n", []string{"-ERR no\r\n"}, func(c *Client) { c.Greeting(); c.Login("a", "b") }, `USER: "-ERR no"`},
		{"PASS refused", "+OK\r\n", []string{"+OK\r\n", "-ERR [AUTH] no\r\n"}, func(c *Client) { c.Greeting(); c.Login("a", "b") }, `PASS: "-ERR [AUTH] no"`},
		{"data after +OK to STLS", "+OK\r\n", []string{"+OK\r\n+OK injected\r\n"}, func(c *Client) { c.Greeting(); c.StartTLS(nil) }, "more bytes after +OK to STLS"},
		{"server closes", "+OK\r\n", []string{}, func(c *Client) { c.Greeting(); c.ReadLine() }, "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, _ := serve(t, tc.greeting, tc.replies...)
			got := failures(t, func(tb testing.TB) { tc.run(New(tb, conn)) })
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Errorf("failures %q, want one containing %q", got, tc.want)
			}
		})
	}
	got := failures(t, func(tb testing.TB) { ExpectPrefix(tb, "STAT", "-ERR", "+OK") })
	if len(got) != 1 || got[0] != `STAT: got "-ERR", want prefix "+OK"` {
		t.Errorf("ExpectPrefix: %q", got)
	}
}

// TestBufferedAfterClose: lines received before the server closed are
// read, even over net.Pipe, which refuses deadlines once the other end
// is closed.
func TestBufferedAfterClose(t *testing.T) {
	conn, _ := serve(t, "+OK bye\r\n-ERR last words\r\n")
	c := New(t, conn)
	c.Greeting()
	time.Sleep(10 * time.Millisecond) // let the server close its end
	if l := c.ReadLine(); l != "-ERR last words" {
		t.Errorf("buffered line: %q", l)
	}
}
