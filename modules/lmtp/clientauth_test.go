package lmtp

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"
)

// passwords is an authenticator over a map.
type passwords map[string]string

func (p passwords) Authenticate(_ context.Context, user, password string) (bool, error) {
	pw, ok := p[user]
	return ok && pw == password, nil
}

// TestClientAuth: with client_auth, a client outside trusted_networks
// (here 192.0.2.7, through a trusted PROXY header) is served, cannot send
// MAIL before AUTH, cannot AUTH in the clear, and delivers once it logged
// in over TLS; a wrong password gets 535 and delivers nothing.
func TestClientAuth(t *testing.T) {
	plain := func(user, pw string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
	}
	tests := []struct {
		name     string
		password string
		want     string
		delivers bool
	}{
		{"right password", "secret pw", "235 ", true},
		{"wrong password", "nope", "535 5.7.8", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{}
			cfg := selfSigned(t)
			h := &Handler{
				ClientAuth:    true,
				ProxyProtocol: &ProxyProtocol{Trusted: []string{"127.0.0.1"}},
				startTLS:      func() *tls.Config { return cfg },
				authn:         passwords{"alice@example.com": "secret pw"},
			}
			addr := testServer(t, h, store)
			cl := dial(t, addr)
			cl.send("PROXY TCP4 192.0.2.7 10.0.0.1 5555 24\r\n")
			expect(t, "greeting", cl.reply(), "220 ")
			expect(t, "LHLO", cl.cmd("LHLO mta.test"), "250 ")
			expect(t, "MAIL before AUTH", cl.cmd("MAIL FROM:<s@x.test>"), "530 5.7.0")
			expect(t, "AUTH in the clear", cl.cmd("AUTH PLAIN "+plain("alice@example.com", tt.password)), "523 ")
			expect(t, "STARTTLS", cl.cmd("STARTTLS"), "220 ")
			cl.upgrade()
			cl.send("LHLO mta.test\r\n")
			caps := cl.replyLines()
			if !strings.Contains(caps, "AUTH PLAIN LOGIN") {
				t.Errorf("LHLO over TLS does not offer AUTH PLAIN LOGIN: %q", caps)
			}
			expect(t, "AUTH", cl.cmd("AUTH PLAIN "+plain("alice@example.com", tt.password)), tt.want)
			if !tt.delivers {
				expect(t, "MAIL after a failed AUTH", cl.cmd("MAIL FROM:<s@x.test>"), "530 5.7.0")
				if got := store.deliveries(); len(got) != 0 {
					t.Fatalf("deliveries = %d, want 0", len(got))
				}
				return
			}
			cl.startData("s@x.test", "a@example.com")
			cl.send(testMessage + ".\r\n")
			expect(t, "reply", cl.reply(), "250 2.0.0 <a@example.com>")
			if got := store.deliveries(); len(got) != 1 {
				t.Fatalf("deliveries = %d, want 1", len(got))
			}
		})
	}
}

// TestClientAuthTrustedNeedsNone: a trusted client (loopback) delivers
// without AUTH when client_auth is on, and is offered no AUTH.
func TestClientAuthTrustedNeedsNone(t *testing.T) {
	store := &fakeStore{}
	cfg := selfSigned(t)
	h := &Handler{ClientAuth: true, startTLS: func() *tls.Config { return cfg }, authn: passwords{}}
	addr := testServer(t, h, store)
	cl := dial(t, addr)
	cl.greet()
	cl.startData("s@x.test", "a@example.com")
	cl.send(testMessage + ".\r\n")
	expect(t, "reply", cl.reply(), "250 2.0.0 <a@example.com>")
}

func TestClientAuthValidate(t *testing.T) {
	tests := []struct {
		name string
		h    func() *Handler
		want string
	}{
		{"no auth", func() *Handler { return &Handler{ClientAuth: true, StartTLS: &TLS{}} }, "client_auth: needs auth"},
		{"no TLS", func() *Handler { return &Handler{ClientAuth: true, AuthRaw: []byte(`{"module":"accounts"}`)} }, "client_auth: needs starttls or implicit_tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h().Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// replyLines reads one multi-line reply and returns all its lines.
func (cl *client) replyLines() string {
	cl.t.Helper()
	var all strings.Builder
	for {
		line, err := cl.r.ReadString('\n')
		if err != nil {
			cl.t.Fatalf("reading reply: %v (got %q)", err, line)
		}
		all.WriteString(line)
		if len(line) < 4 || line[3] != '-' {
			return all.String()
		}
	}
}
