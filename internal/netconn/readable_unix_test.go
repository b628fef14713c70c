//go:build unix

package netconn

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestWaitable checks WaitReadable on a real socket: it returns when
// input, the end of the stream or a deadline comes, reads nothing, and
// returns at once when a layer above has input buffered.
func TestWaitable(t *testing.T) {
	server, client := tcpPair(t)
	pending := false
	conn := NewWaitable(server, server, func() bool { return pending })
	w, ok := conn.(ReadableWaiter)
	if !ok {
		t.Fatalf("NewWaitable over a TCP connection: %T, not a ReadableWaiter", conn)
	}

	// Nothing to read: the wait ends at the read deadline, as a Read.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if err := w.WaitReadable(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("wait with nothing to read: %v, want the deadline", err)
	}
	_ = conn.SetReadDeadline(time.Time{})

	// Input buffered above the socket: no wait.
	pending = true
	if err := w.WaitReadable(); err != nil {
		t.Errorf("wait with input pending above: %v", err)
	}
	pending = false

	// Input sent while waiting, and before: the wait returns and the
	// input is all still there.
	done := make(chan error, 1)
	go func() { done <- w.WaitReadable() }()
	time.Sleep(10 * time.Millisecond) // let it park, most of the time; either way it must return
	if _, err := client.Write([]byte("NOOP\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("wait for input: %v", err)
	}
	if err := w.WaitReadable(); err != nil {
		t.Fatalf("wait with input already there: %v", err)
	}
	buf := make([]byte, 16)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "NOOP\r\n" {
		t.Fatalf("read after the waits: %q, %v", buf[:n], err)
	}

	// Ended from another goroutine (as Session.Shutdown does): the wait
	// ends.
	go func() { done <- w.WaitReadable() }()
	time.Sleep(10 * time.Millisecond)
	_ = conn.SetReadDeadline(time.Now())
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("wait ended by a deadline of now: %v", err)
	}
	_ = conn.SetReadDeadline(time.Time{})

	// The end of the stream: the wait returns and the read says EOF.
	client.Close()
	if err := w.WaitReadable(); err != nil {
		t.Fatalf("wait at the end of the stream: %v", err)
	}
	if n, err := conn.Read(buf); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("read at the end of the stream: %d, %v", n, err)
	}
}

// TestWaitableNeedsSocket: a connection with no socket under it (a pipe)
// is returned as it is.
func TestWaitableNeedsSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if c := NewWaitable(a, a, nil); c != a {
		t.Errorf("NewWaitable over a pipe: %T, want the pipe itself", c)
	}
}
