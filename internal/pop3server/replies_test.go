package pop3server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
)

// TestReplyText checks the exact text of the replies built in place in the
// reply buffer (login, STAT, LIST, UIDL, RETR's status line, QUIT), with
// enough messages that a listing overflows the buffer several times and
// UIDs of the longest length RFC 1939 allows.
func TestReplyText(t *testing.T) {
	const n = 700
	store := memstore.New()
	for i := range n {
		uid := fmt.Sprintf("uid-%d-%s", i, strings.Repeat("u", i%60))
		if i%7 == 0 {
			uid = strings.Repeat("x", 70-len(strconv.Itoa(i))) + strconv.Itoa(i) // 70 octets
		}
		msg := "Subject: " + strconv.Itoa(i) + "\n\n" + strings.Repeat("line\n", i%13)
		if err := store.Import(context.Background(), "alice", storage.Envelope{}, uid, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// What the session will see, read from a snapshot taken and released
	// first.
	drop, err := store.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	msgs := drop.Messages()
	if err := drop.Close(); err != nil {
		t.Fatal(err)
	}
	var total int64
	var list, uidl strings.Builder
	for i, m := range msgs {
		total += m.Size
		fmt.Fprintf(&list, "%d %d\r\n", i+1, m.Size)
		fmt.Fprintf(&uidl, "%d %s\r\n", i+1, m.UID)
	}

	addr := serveForTest(t, New(Config{Hostname: "test.example", IdleTimeout: time.Minute, Store: store, Auth: memAuth{"alice": "pw"}}), nil)
	c := pop3test.Dial(t, addr)
	c.Greeting()
	pop3test.ExpectPrefix(t, "USER", c.Cmd("USER alice"), "+OK")
	if got, want := c.Cmd("PASS pw"), fmt.Sprintf("+OK Logged in, %d messages (%d octets)", n, total); got != want {
		t.Errorf("login: %q, want %q", got, want)
	}
	for _, tc := range []struct{ cmd, want string }{
		{"STAT", fmt.Sprintf("+OK %d %d", n, total)},
		{"LIST 700", fmt.Sprintf("+OK 700 %d", msgs[699].Size)},
		{"UIDL 7", "+OK 7 uid-6-" + strings.Repeat("u", 6)},
		{"UIDL 701", "-ERR No such message"},
	} {
		if got := c.Cmd(tc.cmd); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
	if got, want := c.Cmd("LIST"), fmt.Sprintf("+OK %d messages (%d octets)", n, total); got != want {
		t.Errorf("LIST: %q, want %q", got, want)
	}
	if got := c.Multi(); got != list.String() {
		t.Errorf("LIST body differs (%d octets, want %d)", len(got), list.Len())
	}
	if got := c.Cmd("UIDL"); got != "+OK" {
		t.Errorf("UIDL: %q", got)
	}
	if got := c.Multi(); got != uidl.String() {
		t.Errorf("UIDL body differs (%d octets, want %d)", len(got), uidl.Len())
	}
	if got, want := c.Cmd("RETR 12"), fmt.Sprintf("+OK %d octets", msgs[11].Size); got != want {
		t.Errorf("RETR 12: %q, want %q", got, want)
	}
	if got, want := c.Multi(), "Subject: 11\r\n\r\n"+strings.Repeat("line\r\n", 11); got != want {
		t.Errorf("RETR 12 body: %q, want %q", got, want)
	}
	if got := c.Cmd("TOP 12 1"); got != "+OK Top of message follows" {
		t.Errorf("TOP: %q", got)
	}
	if got, want := c.Multi(), "Subject: 11\r\n\r\nline\r\n"; got != want {
		t.Errorf("TOP body: %q, want %q", got, want)
	}
	c.Cmd("DELE 3")
	if got, want := c.Cmd("QUIT"), fmt.Sprintf("+OK Logging out, %d messages left", n-1); got != want {
		t.Errorf("QUIT: %q, want %q", got, want)
	}
}

// serveForTest serves srv on a loopback listener until the test ends,
// each connection through wrap when it is not nil, and returns the
// listener's address.
func serveForTest(t testing.TB, srv *Server, wrap func(net.Conn) net.Conn) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				if wrap != nil {
					conn = wrap(conn)
				}
				srv.ServeConn(context.Background(), conn, false, true)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}
