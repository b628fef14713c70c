package pop3server

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
)

// writeCounter counts the writes made on a connection.
type writeCounter struct {
	net.Conn
	writes *atomic.Int64
}

func (c writeCounter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestPipelinedRETRsShareWrites: the replies to pipelined RETRs of small
// messages leave in a few large writes, not one write per message (each
// write to a socket costs about as much as copying several KiB), and
// arrive intact and in order.
func TestPipelinedRETRsShareWrites(t *testing.T) {
	const n = 20
	store := memstore.New()
	for i := range n {
		store.Add("alice", "Subject: "+strconv.Itoa(i)+"\n\n"+strings.Repeat(".line "+strconv.Itoa(i)+"\n", 600))
	}
	srv := New(Config{Hostname: "test.example", IdleTimeout: time.Minute, Store: store, Auth: memAuth{"alice": "pw"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		srv.ServeConn(context.Background(), writeCounter{conn, &writes}, false, true)
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})

	c := pop3test.Dial(t, ln.Addr().String())
	c.Greeting()
	c.Login("alice", "pw")
	before := writes.Load()
	var batch strings.Builder
	for i := 1; i <= n; i++ {
		batch.WriteString("RETR " + strconv.Itoa(i) + "\r\n")
	}
	c.Send(batch.String())
	for i := range n {
		pop3test.ExpectPrefix(t, "RETR", c.ReadLine(), "+OK ")
		want := "Subject: " + strconv.Itoa(i) + "\r\n\r\n" + strings.Repeat(".line "+strconv.Itoa(i)+"\r\n", 600) // dot-stuffing undone by the client
		if got := c.Multi(); got != want {
			t.Fatalf("RETR %d: %d octets, want %d", i+1, len(got), len(want))
		}
	}
	// Each reply is about 5.4 KiB, more than the idle buffer: one write
	// each before the pipelined buffer. Now 108 KiB in a few writes
	// (more if the batch arrived in pieces, never one per message).
	if w := writes.Load() - before; w >= n/2 {
		t.Errorf("%d RETRs answered in %d writes, want fewer than %d", n, w, n/2)
	}
	if r := c.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Errorf("QUIT: %q", r)
	}
	_, _ = io.Copy(io.Discard, bufio.NewReader(c.Conn()))
}
