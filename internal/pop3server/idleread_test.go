package pop3server

import (
	"context"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/netconn"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
)

// countingWaiter counts the waits of a session for its client.
type countingWaiter struct {
	net.Conn
	w     netconn.ReadableWaiter
	waits atomic.Int32
}

func (c *countingWaiter) WaitReadable() error {
	c.waits.Add(1)
	return c.w.WaitReadable()
}

// TestIdleSessionHoldsNoReadBuffer serves a session over a real TCP
// connection that can wait for input without reading it, as the adapter
// gives plain TCP connections: after every reply the session gives its
// input buffer back and waits without one (a wait is only started with
// no buffer), pipelined commands are answered from one wait, and a
// command line split across writes still arrives whole.
func TestIdleSessionHoldsNoReadBuffer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	store := memstore.New()
	store.Add("alice", "Subject: x\n\nhello\n")
	srv := New(Config{Hostname: "test.example", IdleTimeout: time.Minute, Store: store, Auth: memAuth{"alice": "pw"}})
	var cw *countingWaiter
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		w, ok := netconn.NewWaitable(conn, conn, nil).(netconn.ReadableWaiter)
		if !ok {
			t.Error("a TCP connection cannot wait without reading here")
			return
		}
		cw = &countingWaiter{Conn: conn, w: w}
		srv.ServeConn(context.Background(), cw, false, true)
	}()
	c := pop3test.Dial(t, ln.Addr().String())
	c.Greeting()
	c.Login("alice", "pw") // 2 waits: USER, PASS
	pop3test.ExpectPrefix(t, "NOOP", c.Cmd("NOOP"), "+OK")
	pop3test.ExpectPrefix(t, "STAT", c.Cmd("STAT"), "+OK 1 ")
	c.Send("NOOP\r\nNOOP\r\nNOOP\r\n") // 1 wait
	for range 3 {
		pop3test.ExpectPrefix(t, "pipelined NOOP", c.ReadLine(), "+OK")
	}
	c.Send("NO") // 1 wait, then a read for the rest
	time.Sleep(10 * time.Millisecond)
	c.Send("OP\r\n")
	pop3test.ExpectPrefix(t, "split NOOP", c.ReadLine(), "+OK")
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK") // 1 wait
	<-done
	if cw == nil {
		t.Fatal("no session")
	}
	if got, want := cw.waits.Load(), int32(7); got != want {
		t.Errorf("the session waited without a buffer %d times, want %d (once per command not already buffered)", got, want)
	}
}

// goroutineID returns the number of the calling goroutine.
func goroutineID() string {
	var buf [64]byte
	line := string(buf[:runtime.Stack(buf[:], false)])
	return strings.Fields(line)[1] // "goroutine 42 [running]:..."
}

// goroutineStore records on which goroutine Open runs.
type goroutineStore struct {
	storage.Store
	opener chan string
}

func (s goroutineStore) Open(ctx context.Context, user string) (storage.Maildrop, error) {
	s.opener <- goroutineID()
	return s.Store.Open(ctx, user)
}

// goroutineAuth records on which goroutine the session runs (the
// authenticator is called on it).
type goroutineAuth struct {
	memAuth
	session chan string
}

func (a goroutineAuth) Authenticate(ctx context.Context, user, password string) (bool, error) {
	a.session <- goroutineID()
	return a.memAuth.Authenticate(ctx, user, password)
}

// TestMaildropOpenedOffSessionStack checks that the storage opens a
// maildrop on a goroutine other than the session's, so that the depth of
// its work (a maildir's listing) does not grow the stack that the session
// keeps while it is idle; the login works as before.
func TestMaildropOpenedOffSessionStack(t *testing.T) {
	store := memstore.New()
	store.Add("alice", "Subject: x\n\nhello\n")
	gs := goroutineStore{Store: store, opener: make(chan string, 1)}
	ga := goroutineAuth{memAuth: memAuth{"alice": "pw"}, session: make(chan string, 1)}
	srv := New(Config{Hostname: "test.example", IdleTimeout: time.Minute, Store: gs, Auth: ga})
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		srv.ServeConn(context.Background(), server, false, true)
	}()
	c := pop3test.New(t, client)
	c.Greeting()
	c.Login("alice", "pw")
	pop3test.ExpectPrefix(t, "STAT", c.Cmd("STAT"), "+OK 1 ")
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
	<-done
	if session, opener := <-ga.session, <-gs.opener; session == opener {
		t.Errorf("the maildrop was opened on the session's goroutine (%s)", session)
	}
}
