package pop3

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// logText renders every captured entry as the JSON line Caddy would write.
func logText(t *testing.T, logs *observer.ObservedLogs) string {
	t.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	var b strings.Builder
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(buf.Bytes())
		buf.Free()
	}
	return b.String()
}

// secretForms are the ways a password can travel: as typed, and base64 as
// in SASL PLAIN and LOGIN.
func secretForms(user, password string) []string {
	forms := []string{password}
	for _, raw := range []string{password, "\x00" + user + "\x00" + password, user + "\x00" + user + "\x00" + password} {
		forms = append(forms,
			base64.StdEncoding.EncodeToString([]byte(raw)),
			base64.RawStdEncoding.EncodeToString([]byte(raw)))
	}
	return forms
}

// TestNoSecretInLogs runs sessions that send passwords every way the
// handler accepts them, right and wrong, with logging at Debug, and checks
// that no password shows up in any log line in any form.
func TestNoSecretInLogs(t *testing.T) {
	const (
		right = "Rt-secret-9f3a"
		wrong = "Wr-guess-77c1"
	)
	core, logs := observer.New(zap.DebugLevel)
	ts := newTestServer(t, remoteClients, withLimits(Limits{AuthFailureLimit: 2, AuthFailureDelay: -1}), func(ts *testServer) {
		ts.h.logger = zap.New(core)
		ts.h.auth = memAuth{"alice": right}
	})
	ts.store.Add("alice", "x\n")

	c := ts.dial(t)
	c.Cmd("PASS " + wrong) // before USER
	c.Cmd("USER alice")
	c.Cmd("PASS " + wrong)
	c.Cmd("USER alice")
	c.Cmd("PASS " + right)
	c.Cmd("STAT")
	c.Cmd("QUIT")

	d := ts.dial(t) // pipelined, then locked out
	d.Send("USER alice\r\nPASS " + wrong + "\r\nUSER alice\r\nPASS " + wrong + "\r\nUSER alice\r\nPASS " + right + "\r\n")
	for range 6 {
		d.ReadLine()
	}

	plain := newTestServer(t, func(ts *testServer) { ts.loopback = false; ts.h.logger = zap.New(core) })
	e := plain.dial(t) // plaintext refused on an insecure connection
	e.Cmd("USER alice")
	e.Cmd("PASS " + right)
	e.Cmd("PASS " + right + " " + right + " " + right + " " + right)
	e.Cmd("QUIT")

	// SASL PLAIN and LOGIN, and APOP, over a connection where they are
	// allowed.
	sasl := newTestServer(t, remoteClients, withLimits(Limits{AuthFailureDelay: -1}), func(ts *testServer) {
		ts.h.logger = zap.New(core)
		a := memSecrets{"alice": right}
		ts.h.APOP = true
		ts.h.auth = a
		if err := ts.h.provisionAPOP(a); err != nil {
			t.Fatal(err)
		}
	})
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var digests []string
	for _, pw := range []string{wrong, right} {
		f, _ := sasl.dialAPOP(t)
		f.Cmd("AUTH PLAIN " + b64("\x00alice\x00"+pw))
		f.Cmd("QUIT")

		g := sasl.dialRaw(t)
		g.ReadLine()
		pop3test.ExpectPrefix(t, "AUTH PLAIN", g.Cmd("AUTH PLAIN"), "+ ")
		g.Cmd(b64("alice\x00alice\x00" + pw))
		g.Cmd("QUIT")

		h := sasl.dialRaw(t)
		h.ReadLine()
		pop3test.ExpectPrefix(t, "AUTH LOGIN", h.Cmd("AUTH LOGIN"), "+ ")
		pop3test.ExpectPrefix(t, "user name", h.Cmd(b64("alice")), "+ ")
		h.Cmd(b64(pw))
		h.Cmd("QUIT")

		a, stamp := sasl.dialAPOP(t)
		sum := md5.Sum([]byte(stamp + pw))
		digest := hex.EncodeToString(sum[:])
		digests = append(digests, digest)
		a.Cmd("APOP alice " + digest)
		a.Cmd("QUIT")
	}

	text := logText(t, logs)
	if !strings.Contains(text, "authentication failed") || !strings.Contains(text, `"level":"debug"`) {
		t.Fatalf("the sessions did not log what was expected; captured:\n%s", text)
	}
	if !strings.Contains(text, `"mechanism":"PLAIN"`) || !strings.Contains(text, `"mechanism":"LOGIN"`) || !strings.Contains(text, `"mechanism":"APOP"`) {
		t.Errorf("the SASL and APOP logins were not logged; captured:\n%s", text)
	}
	for _, pw := range []string{right, wrong} {
		for _, form := range secretForms("alice", pw) {
			if strings.Contains(text, form) {
				t.Errorf("a log line contains the password %q as %q:\n%s", pw, form, text)
			}
		}
	}
	for _, d := range digests {
		if strings.Contains(text, d) {
			t.Errorf("a log line contains the APOP digest %q", d)
		}
	}
}
