//go:build linux

package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
)

// postgresCaddyfile is a node on a shared database: storage postgres and
// auth sql on one DSN. The verbs are the POP3 port and the DSN (twice).
const postgresCaddyfile = `{
	admin off
	layer4 {
		127.0.0.1:%d {
			route {
				pop3 {
					hostname test.example
					storage postgres {
						dsn "%s"
						lease_time 2s
						timeout 2s
					}
					auth sql {
						dsn "%s"
						query "SELECT password FROM users WHERE username = $1"
						timeout 2s
					}
				}
			}
		}
	}
}
`

// startPostgresNode starts a Caddy whose pop3 handler keeps mail in the
// database of dsn and takes its users from there.
func startPostgresNode(t *testing.T, dsn string) *server {
	t.Helper()
	dir := t.TempDir()
	return retryStart(t, func() (*server, error) {
		port := freePort(t)
		s := &server{
			Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, Dir: dir,
			out: &lockedBuffer{}, exited: make(chan struct{}),
		}
		home := filepath.Join(dir, "home")
		if err := os.MkdirAll(home, 0o700); err != nil {
			return nil, err
		}
		s.config = filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(s.config, fmt.Appendf(nil, postgresCaddyfile, port, dsn, dsn), 0o600); err != nil {
			return nil, err
		}
		err := s.launch(t, []string{"run", "--config", s.config, "--adapter", "caddyfile"}, home, s.waitReady)
		return s, err
	})
}

// TestPostgresTwoNodes runs two real Caddy processes on one PostgreSQL
// database: a user logs in on either, the maildrop is locked across them
// (-ERR [IN-USE]), deletions at QUIT are seen by the other node, mail
// delivered with `caddy pop3 deliver` through a node's config shows up,
// and with the database down a login gets -ERR [SYS/TEMP] until the
// database is back.
func TestPostgresTwoNodes(t *testing.T) {
	c, dsn := startMailDatabase(t)

	a := startPostgresNode(t, dsn)
	b := startPostgresNode(t, dsn)

	var want []string
	for i := range 3 {
		msg := fmt.Sprintf("Message-ID: <pg%d@e2e.test>\nSubject: message %d\n\n.leading dot\nbody %d\n", i, i, i)
		want = append(want, msg)
		cmd := runDeliver(t, a.config, msg)
		if cmd != 0 {
			t.Fatalf("caddy pop3 deliver: exit %d", cmd)
		}
	}

	pa := dialPOP3(t, a.Addr)
	if r := pa.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login on node a: %q", r)
	}
	pb := dialPOP3(t, b.Addr)
	if r := pb.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "-ERR [IN-USE]") {
		t.Fatalf("login on node b while node a has the maildrop: %q, want -ERR [IN-USE]", r)
	}
	if r := pa.Cmd("STAT"); !strings.HasPrefix(r, "+OK 3 ") {
		t.Fatalf("STAT: %q", r)
	}
	for i := range want {
		got, err := retrieve(pa, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if got != want[i] {
			t.Errorf("RETR %d = %q, want %q", i+1, got, want[i])
		}
	}
	if r := pa.Cmd("DELE 2"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("DELE: %q", r)
	}
	if r := pa.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %q", r)
	}

	pb = dialPOP3(t, b.Addr)
	if r := pb.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login on node b after node a quit: %q", r)
	}
	if r := pb.Cmd("STAT"); !strings.HasPrefix(r, "+OK 2 ") {
		t.Errorf("STAT on node b after the deletion on node a: %q, want 2 messages", r)
	}
	if got, err := retrieve(pb, 2); err != nil || got != want[2] {
		t.Errorf("RETR 2 on node b = %q, %v; want %q", got, err, want[2])
	}
	pb.Cmd("QUIT")

	// The database goes down: a temporary error, never "wrong password".
	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	pa = dialPOP3(t, a.Addr)
	if r := pa.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "-ERR [SYS/TEMP]") {
		t.Errorf("login with the database down: %q, want -ERR [SYS/TEMP]", r)
	}
	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	// The node recovers by itself. Bounded wait.
	var r string
	for range 50 {
		pa = dialPOP3(t, a.Addr)
		if r = pa.LoginReply(testUser, testPassword); strings.HasPrefix(r, "+OK") {
			break
		}
		pa.Cmd("QUIT")
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login after the database came back: %q", r)
	}
	if r := pa.Cmd("STAT"); !strings.HasPrefix(r, "+OK 2 ") {
		t.Errorf("STAT after the database restart: %q, want 2 messages", r)
	}
	pa.Cmd("QUIT")
}

// runDeliver runs `caddy pop3 deliver` with config and returns its exit
// code.
func runDeliver(t *testing.T, config, msg string) int {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "msg")
	if err := os.WriteFile(in, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCommand(t, dir, nil, "sh", "-c", `"$0" pop3 deliver --config "$1" --user "$2" < "$3"`, caddyBin, config, testUser, in)
	if code != 0 {
		t.Logf("caddy pop3 deliver: %s", stderr)
	}
	return code
}

// TestPostgresLargeRETR retrieves a 5 MiB message through the real
// binary from postgres and, for comparison, from maildir: both must be
// byte-identical to what was delivered. The throughput of each is logged
// (a measurement, not an assertion).
func TestPostgresLargeRETR(t *testing.T) {
	if testing.Short() {
		t.Skip("5 MiB messages")
	}
	_, dsn := startMailDatabase(t)

	var msg strings.Builder
	msg.WriteString("Message-ID: <large@e2e.test>\r\nSubject: large\r\n\r\n")
	for i := 0; msg.Len() < 5<<20; i++ {
		fmt.Fprintf(&msg, ".line %08d of a large message, dot-stuffed on the wire %s\r\n", i, strings.Repeat("x", i%40))
	}
	want := sha256.Sum256([]byte(msg.String()))
	const rounds = 3
	for _, node := range []struct {
		name string
		s    *server
	}{
		{"maildir", startServer(t, serverOptions{})},
		{"postgres", startPostgresNode(t, dsn)},
	} {
		if code := runDeliver(t, node.s.config, msg.String()); code != 0 {
			t.Fatalf("%s: caddy pop3 deliver: exit %d", node.name, code)
		}
		p := dialPOP3(t, node.s.Addr)
		if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("%s: login: %q", node.name, r)
		}
		start := time.Now()
		for range rounds {
			got, n := retrieveHash(t, p, 1)
			if got != want || n != int64(msg.Len()) {
				t.Fatalf("%s: RETR gave %d bytes, sha256 equal %v; want %d bytes", node.name, n, got == want, msg.Len())
			}
		}
		elapsed := time.Since(start)
		t.Logf("%s: RETR of a %.1f MiB message over POP3: %.0f MB/s (%d rounds)", node.name,
			float64(msg.Len())/(1<<20), float64(rounds*msg.Len())/elapsed.Seconds()/1e6, rounds)
		p.Cmd("QUIT")
	}
}

// retrieveHash sends RETR n and returns the SHA-256 and the length of the
// message with dot-stuffing undone (CRLF kept).
func retrieveHash(t *testing.T, p *pop3test.Client, n int) (sum [32]byte, size int64) {
	t.Helper()
	if r := p.Cmd(fmt.Sprintf("RETR %d", n)); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("RETR %d: %q", n, r)
	}
	h := sha256.New()
	size = p.CopyMulti(h)
	copy(sum[:], h.Sum(nil))
	return sum, size
}

// startMailDatabase starts a private PostgreSQL (internal/pgtest) with a
// database "mail" whose users table (the one examples/cluster's auth sql
// reads) holds alice, and returns the cluster and the database's DSN.
func startMailDatabase(t *testing.T) (*pgtest.Cluster, string) {
	t.Helper()
	c := pgtest.StartForTest(t, freePort(t))
	ctx := context.Background()
	if err := c.CreateDatabase(ctx, "mail"); err != nil {
		t.Fatal(err)
	}
	dsn := c.DSN("mail")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE users (username text PRIMARY KEY, password text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO users VALUES ($1, $2)`, testUser, testPasswordHash(t)); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	return c, dsn
}
