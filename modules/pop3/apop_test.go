package pop3

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// memSecrets is an authenticator that keeps plain-text secrets, so it can
// check APOP digests; "broken" makes lookups fail.
type memSecrets map[string]string

func (a memSecrets) Authenticate(_ context.Context, user, password string) (bool, error) {
	pw, ok := a[user]
	return ok && pw == password, nil
}

func (a memSecrets) PlainSecret(_ context.Context, user string) (string, bool, error) {
	if user == "broken" {
		return "", false, errors.New("user database unreadable")
	}
	pw, ok := a[user]
	return pw, ok, nil
}

var _ auth.SecretLookup = memSecrets(nil)

// withAPOP turns APOP on with a secret-keeping authenticator.
func withAPOP(ts *testServer) {
	a := memSecrets{"alice": "tanstaaf"}
	ts.h.APOP = true
	ts.h.auth = a
	if err := ts.h.provisionAPOP(a); err != nil {
		panic(err)
	}
}

var timestampRE = regexp.MustCompile(`^\+OK .* (<[0-9]+\.[0-9]+@test\.example>)$`)

// dialAPOP connects and returns the client and the greeting's timestamp.
func (ts *testServer) dialAPOP(t *testing.T) (*testClient, string) {
	t.Helper()
	c := ts.dialRaw(t)
	g := c.readLine()
	m := timestampRE.FindStringSubmatch(g)
	if m == nil {
		t.Fatalf("greeting %q has no APOP timestamp", g)
	}
	return c, m[1]
}

func apopDigest(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

func TestAPOP(t *testing.T) {
	ts := newTestServer(t, withAPOP)
	ts.store.Add("alice", "x\n")

	c, stamp := ts.dialAPOP(t)
	expectPrefix(t, "wrong digest", c.cmd("APOP alice "+apopDigest(stamp, "wrong")), "-ERR [AUTH] Authentication failed")
	expectPrefix(t, "unknown user", c.cmd("APOP mallory "+apopDigest(stamp, "tanstaaf")), "-ERR [AUTH] Authentication failed")
	expectPrefix(t, "unknown user, digest of the bare timestamp", c.cmd("APOP mallory "+apopDigest(stamp, "")), "-ERR [AUTH] Authentication failed")
	expectPrefix(t, "not hex", c.cmd("APOP alice xyz"), "-ERR [AUTH] Authentication failed")
	expectPrefix(t, "missing digest", c.cmd("APOP alice"), "-ERR APOP: missing argument")
	expectPrefix(t, "lookup failure", c.cmd("APOP broken "+apopDigest(stamp, "")), "-ERR [SYS/TEMP]")
	expectPrefix(t, "right digest, upper case", c.cmd("APOP alice "+strings.ToUpper(apopDigest(stamp, "tanstaaf"))), "+OK Logged in, 1 messages")
	expectPrefix(t, "APOP in TRANSACTION", c.cmd("APOP alice x"), "-ERR APOP is not valid in this state")
	c.cmd("QUIT")

	// A digest is good for one greeting only.
	c2, stamp2 := ts.dialAPOP(t)
	if stamp2 == stamp {
		t.Fatalf("two greetings with the same timestamp %s", stamp)
	}
	expectPrefix(t, "replayed digest", c2.cmd("APOP alice "+apopDigest(stamp, "tanstaaf")), "-ERR [AUTH]")
	expectPrefix(t, "fresh digest", c2.cmd("APOP alice "+apopDigest(stamp2, "tanstaaf")), "+OK Logged in")
}

// TestAPOPOnClearConnection: APOP sends no reusable secret, so the
// plaintext policy does not apply to it.
func TestAPOPOnClearConnection(t *testing.T) {
	ts := newTestServer(t, withAPOP, func(ts *testServer) { ts.loopback = false })
	c, stamp := ts.dialAPOP(t)
	expectPrefix(t, "APOP", c.cmd("APOP alice "+apopDigest(stamp, "tanstaaf")), "+OK Logged in")
}

func TestAPOPOff(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dialRaw(t)
	if g := c.readLine(); strings.Contains(g, "<") {
		t.Errorf("greeting carries a timestamp without apop: %q", g)
	}
	expectPrefix(t, "APOP", c.cmd("APOP alice 0123456789abcdef0123456789abcdef"), "-ERR APOP is not available")
}

func TestAPOPNeedsSecretLookup(t *testing.T) {
	h := &Handler{APOP: true, logger: zap.NewNop()}
	err := h.provisionAPOP(memAuth{"alice": "x"})
	if err == nil || !strings.HasPrefix(err.Error(), "apop: ") {
		t.Errorf("apop with an authenticator that cannot look up secrets: got %v, want an error naming apop", err)
	}
	h.APOP = false
	if err := h.provisionAPOP(memAuth{}); err != nil {
		t.Errorf("apop off: %v", err)
	}
}

// dialRaw connects without reading the greeting.
func (ts *testServer) dialRaw(t *testing.T) *testClient {
	t.Helper()
	conn, err := net.Dial("tcp", ts.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &testClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}
