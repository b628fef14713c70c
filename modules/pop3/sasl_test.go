package pop3

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestSASL(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "x\n")
	usernameChallenge, passwordChallenge := "+ "+b64("Username:"), "+ "+b64("Password:")
	for _, tc := range []struct {
		name  string
		lines []string // sent one by one
		want  []string // the reply to each line (a prefix of it)
	}{
		{"plain initial response",
			[]string{"AUTH PLAIN " + b64("\x00alice\x00secret pw"), "STAT"},
			[]string{"+OK Logged in, 1 messages", "+OK 1 "}},
		{"plain lower-case mechanism",
			[]string{"auth plain " + b64("\x00alice\x00secret pw")},
			[]string{"+OK Logged in"}},
		{"plain authzid equal to user",
			[]string{"AUTH PLAIN " + b64("alice\x00alice\x00secret pw")},
			[]string{"+OK Logged in"}},
		{"plain continuation",
			[]string{"AUTH PLAIN", b64("\x00alice\x00secret pw")},
			[]string{"+ ", "+OK Logged in"}},
		{"plain wrong password",
			[]string{"AUTH PLAIN " + b64("\x00alice\x00nope")},
			[]string{"-ERR [AUTH] Authentication failed"}},
		{"plain unknown user",
			[]string{"AUTH PLAIN " + b64("\x00mallory\x00nope")},
			[]string{"-ERR [AUTH] Authentication failed"}},
		{"plain other authzid",
			[]string{"AUTH PLAIN " + b64("bob\x00alice\x00secret pw")},
			[]string{"-ERR [AUTH] The authorization identity must be empty or the user name"}},
		{"plain malformed",
			[]string{"AUTH PLAIN " + b64("alice secret pw")},
			[]string{"-ERR Malformed PLAIN response"}},
		{"plain empty initial response",
			[]string{"AUTH PLAIN ="},
			[]string{"-ERR Malformed PLAIN response"}},
		{"plain bad base64 initial response",
			[]string{"AUTH PLAIN !!!notbase64"},
			[]string{"-ERR Invalid base64 in the initial response"}},
		{"plain bad base64 response",
			[]string{"AUTH PLAIN", "%%%"},
			[]string{"+ ", "-ERR Invalid base64 in the response"}},
		{"plain cancel",
			[]string{"AUTH PLAIN", "*", "AUTH PLAIN " + b64("\x00alice\x00secret pw")},
			[]string{"+ ", "-ERR Authentication cancelled", "+OK Logged in"}},
		{"login",
			[]string{"AUTH LOGIN", b64("alice"), b64("secret pw"), "STAT"},
			[]string{usernameChallenge, passwordChallenge, "+OK Logged in", "+OK 1 "}},
		{"login initial response",
			[]string{"AUTH LOGIN " + b64("alice"), b64("secret pw")},
			[]string{passwordChallenge, "+OK Logged in"}},
		{"login wrong password",
			[]string{"AUTH LOGIN", b64("alice"), b64("bad")},
			[]string{usernameChallenge, passwordChallenge, "-ERR [AUTH] Authentication failed"}},
		{"login cancel at password",
			[]string{"AUTH LOGIN", b64("alice"), "*", "NOOP"},
			[]string{usernameChallenge, passwordChallenge, "-ERR Authentication cancelled", "-ERR NOOP is not valid in this state"}},
		{"login bad base64",
			[]string{"AUTH LOGIN", "a"},
			[]string{usernameChallenge, "-ERR Invalid base64 in the response"}},
		{"unknown mechanism",
			[]string{"AUTH CRAM-MD5"},
			[]string{"-ERR Unsupported SASL mechanism"}},
		{"too many arguments",
			[]string{"AUTH PLAIN a b"},
			[]string{"-ERR AUTH: too many arguments"}},
		// SASL responses may be longer than command lines (RFC 5034), up
		// to max_auth_line_length.
		{"long response",
			[]string{"AUTH PLAIN", strings.Repeat("QUFB", pop3server.ReadBufferSize), "CAPA"},
			[]string{"+ ", "-ERR Malformed PLAIN response", "+OK"}},
		{"over-long response",
			[]string{"AUTH PLAIN", strings.Repeat("QUFB", DefaultMaxAuthLineLength/4+1), "CAPA"},
			[]string{"+ ", "-ERR line too long", "+OK"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t)
			for i, l := range tc.lines {
				got := c.Cmd(l)
				if !strings.HasPrefix(got, tc.want[i]) {
					t.Fatalf("%q: got %q, want prefix %q", l, got, tc.want[i])
				}
				if got == "+OK Capability list follows" {
					c.Multi()
				}
			}
			c.Cmd("QUIT")
		})
	}
}

func TestSASLMechanismList(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial(t)
	if caps := c.Capa(); !hasCapability(caps, "SASL PLAIN LOGIN") {
		t.Errorf("CAPA lacks SASL PLAIN LOGIN: %q", caps)
	}
	pop3test.ExpectPrefix(t, "AUTH", c.Cmd("AUTH"), "+OK")
	if got := c.Multi(); got != "PLAIN\r\nLOGIN\r\n" {
		t.Errorf("AUTH listing: %q", got)
	}
	c.Login("alice", "secret pw")
	if caps := c.Capa(); strings.Contains(strings.Join(caps, "\n"), "SASL") {
		t.Errorf("CAPA in TRANSACTION lists SASL: %q", caps)
	}
	pop3test.ExpectPrefix(t, "AUTH after login", c.Cmd("AUTH PLAIN"), "-ERR AUTH is not valid in this state")

	// On a clear, non-loopback connection nothing is offered.
	ts = newTestServer(t, func(ts *testServer) { ts.loopback = false })
	c = ts.dial(t)
	if caps := c.Capa(); strings.Contains(strings.Join(caps, "\n"), "SASL") {
		t.Errorf("CAPA on a clear connection lists SASL: %q", caps)
	}
	pop3test.ExpectPrefix(t, "AUTH", c.Cmd("AUTH"), "+OK")
	if got := c.Multi(); got != "" {
		t.Errorf("AUTH listing on a clear connection: %q", got)
	}
	for _, l := range []string{"AUTH PLAIN " + b64("\x00alice\x00secret pw"), "AUTH PLAIN", "AUTH LOGIN"} {
		pop3test.ExpectPrefix(t, l, c.Cmd(l), "-ERR [AUTH] Plaintext authentication is disabled on insecure connections; use TLS")
	}

	// allow_insecure_auth offers them again.
	ts = newTestServer(t, func(ts *testServer) { ts.loopback = false; ts.h.AllowInsecureAuth = true })
	c = ts.dial(t)
	if caps := c.Capa(); !hasCapability(caps, "SASL PLAIN LOGIN") {
		t.Errorf("CAPA with allow_insecure_auth lacks SASL PLAIN LOGIN: %q", caps)
	}
	pop3test.ExpectPrefix(t, "AUTH PLAIN", c.Cmd("AUTH PLAIN "+b64("\x00alice\x00secret pw")), "+OK Logged in")
}

// TestSASLInUse checks that SASL logins go through the same maildrop
// locking as USER/PASS.
func TestSASLInUse(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "x\n")
	a := ts.dial(t)
	a.Login("alice", "secret pw")
	b := ts.dial(t)
	pop3test.ExpectPrefix(t, "second login", b.Cmd("AUTH PLAIN "+b64("\x00alice\x00secret pw")), "-ERR [IN-USE]")
}
