package pop3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// scriptConn is a net.Conn that reads a fixed input and collects what is
// written, failing writes past max octets. Sessions run over it
// synchronously, with no goroutine and no network.
type scriptConn struct {
	r      io.Reader
	w      io.Writer // nil: discard
	max    int       // 0: no limit
	n      int
	remote net.Addr
}

var errOutputLimit = errors.New("output limit reached")

func (c *scriptConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *scriptConn) Write(p []byte) (int, error) {
	c.n += len(p)
	if c.max > 0 && c.n > c.max {
		return 0, errOutputLimit
	}
	if c.w == nil {
		return len(p), nil
	}
	return c.w.Write(p)
}

func (c *scriptConn) Close() error        { return nil }
func (c *scriptConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 110} }
func (c *scriptConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzMessages is the maildrop of the session fuzzer: dot-stuffing, a
// lone dot, no final newline, CRLF and LF.
var fuzzMessages = []string{
	"Subject: one\n\n.leading dot\n.\nend\n",
	"Subject: two\r\n\r\nno final newline",
	"Subject: three\n\nline 1\nline 2\nline 3\n",
}

// maxFuzzOutputPerLine bounds what one input line may make the server
// send: the largest response is a whole message, dot-stuffed (at most
// twice its size), or a listing.
var maxFuzzOutputPerLine = 2*len(strings.Join(fuzzMessages, "")) + 1024

func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"CAPA\r\nUSER alice\r\nPASS secret pw\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 3 1\r\nDELE 2\r\nRSET\r\nDELE 1\r\nQUIT\r\n",
		"USER alice\nPASS secret pw\nRETR 2\nDELE 3\nQUIT\n",
		"USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS secret pw\r\nLIST 99999999999999999999\r\nTOP 1 -1\r\nRETR 0\r\n",
		"\x00\x01\x02\xff\r\n\r\n\n\n   \r\nNOOP\r\n",
		"USER " + strings.Repeat("x", 300) + "\r\nAUTH PLAIN " + strings.Repeat("A", 300) + "\r\nQUIT\r\n",
		"user alice\r\npass secret pw\r\ndele 1\r\ndele 1\r\nlist 1\r\nuidl 1\r\nnoop\r\nquit\r\n",
		strings.Repeat("BOGUS\r\n", 30),
		"USER alice\r\nPASS secret pw\r\n" + strings.Repeat("STAT\r\n", 50),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		store := memstore.New()
		store.Add("alice", fuzzMessages...)
		h := &Handler{
			Hostname:          "fuzz.example",
			IdleTimeout:       caddy.Duration(DefaultIdleTimeout),
			AllowInsecureAuth: true,
			store:             store,
			APOP:              true,
			auth:              memSecrets{"alice": "secret pw", "bob": bobPassword},
			logger:            zap.NewNop(),
			Limits: Limits{
				AuthFailureLimit: 3,
				conns:            guard.NewConns(),
				failures:         guard.NewFailures(16),
				logins:           guard.NewLogins(),
				pause:            func(ctx context.Context, _ time.Duration) bool { return ctx.Err() == nil },
			},
		}
		if err := h.provisionAPOP(h.auth); err != nil {
			t.Fatal(err)
		}
		lines := bytes.Count(input, []byte{'\n'}) + 1
		var out bytes.Buffer
		conn := &scriptConn{
			r:      bytes.NewReader(input),
			w:      &out,
			max:    (lines + 2) * maxFuzzOutputPerLine,
			remote: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000},
		}
		h.server().ServeConn(context.Background(), conn, false, false)

		if conn.n > conn.max {
			t.Fatalf("%d input lines made the server send more than %d octets", lines, conn.max)
		}
		o := out.Bytes()
		if !bytes.HasPrefix(o, []byte("+OK ")) {
			t.Fatalf("no greeting: %q", o)
		}
		if !bytes.HasSuffix(o, []byte("\r\n")) {
			t.Fatalf("output does not end with CRLF: %q", o)
		}
		for _, l := range bytes.Split(o[:len(o)-2], []byte("\r\n")) {
			if bytes.ContainsAny(l, "\r\n") {
				t.Fatalf("bare CR or LF in output line %q", l)
			}
		}
		locked := store.LockedCount()
		if locked != 0 {
			t.Fatal("the maildrop is still locked after the session")
		}
		if !bytes.Contains(o, []byte("+OK Logging out, ")) && store.Count("alice") != len(fuzzMessages) {
			t.Fatalf("messages were deleted by a session that did not QUIT from TRANSACTION: %d left", store.Count("alice"))
		}
		if total, ips, users := h.Limits.conns.Counts(); total != 0 || ips != 0 || users != 0 {
			t.Fatalf("connection counts not released: %d, %d, %d", total, ips, users)
		}
	})
}
