package pop3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
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
func (ts *testServer) dialAPOP(t *testing.T) (*pop3test.Client, string) {
	t.Helper()
	c := ts.dialRaw(t)
	g := c.ReadLine()
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
	pop3test.ExpectPrefix(t, "wrong digest", c.Cmd("APOP alice "+apopDigest(stamp, "wrong")), "-ERR [AUTH] Authentication failed")
	pop3test.ExpectPrefix(t, "unknown user", c.Cmd("APOP mallory "+apopDigest(stamp, "tanstaaf")), "-ERR [AUTH] Authentication failed")
	pop3test.ExpectPrefix(t, "unknown user, digest of the bare timestamp", c.Cmd("APOP mallory "+apopDigest(stamp, "")), "-ERR [AUTH] Authentication failed")
	pop3test.ExpectPrefix(t, "not hex", c.Cmd("APOP alice xyz"), "-ERR [AUTH] Authentication failed")
	pop3test.ExpectPrefix(t, "missing digest", c.Cmd("APOP alice"), "-ERR APOP: missing argument")
	pop3test.ExpectPrefix(t, "lookup failure", c.Cmd("APOP broken "+apopDigest(stamp, "")), "-ERR [SYS/TEMP]")
	pop3test.ExpectPrefix(t, "right digest, upper case", c.Cmd("APOP alice "+strings.ToUpper(apopDigest(stamp, "tanstaaf"))), "+OK Logged in, 1 messages")
	pop3test.ExpectPrefix(t, "APOP in TRANSACTION", c.Cmd("APOP alice x"), "-ERR APOP is not valid in this state")
	c.Cmd("QUIT")

	// A digest is good for one greeting only.
	c2, stamp2 := ts.dialAPOP(t)
	if stamp2 == stamp {
		t.Fatalf("two greetings with the same timestamp %s", stamp)
	}
	pop3test.ExpectPrefix(t, "replayed digest", c2.Cmd("APOP alice "+apopDigest(stamp, "tanstaaf")), "-ERR [AUTH]")
	pop3test.ExpectPrefix(t, "fresh digest", c2.Cmd("APOP alice "+apopDigest(stamp2, "tanstaaf")), "+OK Logged in")
}

// TestAPOPOnClearConnection: APOP sends no reusable secret, so the
// plaintext policy does not apply to it.
func TestAPOPOnClearConnection(t *testing.T) {
	ts := newTestServer(t, withAPOP, func(ts *testServer) { ts.loopback = false })
	c, stamp := ts.dialAPOP(t)
	pop3test.ExpectPrefix(t, "APOP", c.Cmd("APOP alice "+apopDigest(stamp, "tanstaaf")), "+OK Logged in")
}

func TestAPOPOff(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dialRaw(t)
	if g := c.ReadLine(); strings.Contains(g, "<") {
		t.Errorf("greeting carries a timestamp without apop: %q", g)
	}
	pop3test.ExpectPrefix(t, "APOP", c.Cmd("APOP alice 0123456789abcdef0123456789abcdef"), "-ERR APOP is not available")
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
