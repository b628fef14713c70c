package pop3server

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/netconn"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
)

// Whole-session benchmark: each user has benchMessages messages of
// benchMessageSize bytes, like the small mode of cmd/pop3bench.
const (
	benchUsers       = 64
	benchMessages    = 20
	benchMessageSize = 4 << 10
	benchPassword    = "bench pw"
)

// startBenchServer serves sessions over loopback TCP from an in-memory
// store, the way Handle does, and returns the address.
func startBenchServer(b *testing.B) string {
	b.Helper()
	store := memstore.New()
	auth := memAuth{}
	for u := range benchUsers {
		user := "user" + strconv.Itoa(u)
		auth[user] = benchPassword
		for i := range benchMessages {
			store.Add(user, string(benchMessage(benchMessageSize, "\n"))+"X-Seq: "+strconv.Itoa(i)+"\n")
		}
	}
	srv := New(Config{
		Hostname:    "bench.example",
		IdleTimeout: 10 * time.Minute,
		Store:       store,
		Auth:        auth,
	})
	// As the adapter gives a plain TCP connection.
	return serveForTest(b, srv, func(conn net.Conn) net.Conn { return netconn.NewWaitable(conn, conn, nil) })
}

// benchSession runs one full session as user over c: login, STAT, UIDL,
// LIST, RETR of every message, QUIT. It checks that every answer is +OK,
// and returns the message octets received. c is reused from session to
// session, so that its buffers are not allocated again.
func benchSession(addr, user string, c *pop3test.Conn) (int64, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	c.Reset(conn)
	if g, err := c.ReadLine(); err != nil {
		return 0, err
	} else if !strings.HasPrefix(g, "+OK") {
		return 0, fmt.Errorf("greeting %q", g)
	}
	cmd := func(line string, isMulti bool) (int64, error) {
		if err := c.OK(line); err != nil {
			return 0, err
		}
		if isMulti {
			return c.CopyMulti(io.Discard)
		}
		return 0, nil
	}
	var total int64
	for _, c := range []struct {
		line  string
		multi bool
	}{{"USER " + user, false}, {"PASS " + benchPassword, false}, {"STAT", false}, {"UIDL", true}, {"LIST", true}} {
		if _, err := cmd(c.line, c.multi); err != nil {
			return 0, err
		}
	}
	for i := 1; i <= benchMessages; i++ {
		n, err := cmd("RETR "+strconv.Itoa(i), true)
		if err != nil {
			return 0, err
		}
		total += n
	}
	_, err = cmd("QUIT", false)
	return total, err
}

// BenchmarkSession measures whole sessions against an in-memory store over
// loopback TCP, one client at a time and with parallel clients (each on
// its own user: a maildrop is locked for its session).
func BenchmarkSession(b *testing.B) {
	addr := startBenchServer(b)
	b.Run("sequential", func(b *testing.B) {
		c := pop3test.NewConnSize(nil, 64<<10)
		c.SetTimeout(0) // no client timers: measure the server
		b.ReportAllocs()
		var octets int64
		cpu0 := processCPU()
		for b.Loop() {
			n, err := benchSession(addr, "user0", c)
			if err != nil {
				b.Fatal(err)
			}
			octets = n
		}
		reportSessionCPU(b, cpu0)
		b.SetBytes(octets)
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Int32
		b.ReportAllocs()
		cpu0 := processCPU()
		defer reportSessionCPU(b, cpu0)
		b.RunParallel(func(pb *testing.PB) {
			user := "user" + strconv.Itoa(int(next.Add(1))%benchUsers)
			c := pop3test.NewConnSize(nil, 64<<10)
			c.SetTimeout(0)
			for pb.Next() {
				if _, err := benchSession(addr, user, c); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// reportSessionCPU reports the CPU time of the process (server and client
// together) per session since cpu0: steadier than the wall clock on a
// shared machine.
func reportSessionCPU(b *testing.B, cpu0 int64) {
	if cpu := processCPU(); cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu-cpu0)/1e3/float64(b.N), "cpu-µs/op")
	}
}
