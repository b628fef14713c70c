package pop3

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/mholt/caddy-l4/layer4"
	"go.uber.org/zap"
)

// testCertificate is a self-signed certificate for test.example and
// 127.0.0.1, made once per test binary.
var testCertificate = sync.OnceValues(func() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test.example"},
		DNSNames:              []string{"test.example"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
})

// serverTLS returns a server config with the test certificate.
func serverTLS(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := testCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// clientTLS returns a client config that trusts only the test certificate.
func clientTLS(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := testCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{RootCAs: pool, ServerName: "test.example", MinVersion: tls.VersionTLS12}
}

// withSTLS turns STLS on with the test certificate.
func withSTLS(t *testing.T) func(*testServer) {
	cfg := serverTLS(t)
	return func(ts *testServer) {
		ts.h.tlsConfig = func() *tls.Config { return cfg }
	}
}

func hasCapability(caps []string, want string) bool {
	for _, c := range caps {
		if c == want {
			return true
		}
	}
	return false
}

func TestSTLSUpgrade(t *testing.T) {
	ts := newTestServer(t, withSTLS(t))
	ts.store.Add("alice", "Subject: x\n\nbody\n")
	c := ts.dial(t)
	if caps := c.Capa(); !hasCapability(caps, "STLS") {
		t.Errorf("CAPA before TLS lacks STLS: %q", caps)
	}
	c.StartTLS(clientTLS(t))
	if caps := c.Capa(); hasCapability(caps, "STLS") {
		t.Errorf("CAPA after TLS lists STLS: %q", caps)
	}
	pop3test.ExpectPrefix(t, "second STLS", c.Cmd("STLS"), "-ERR Command not permitted when TLS active")
	c.Login("alice", "secret pw")
	pop3test.ExpectPrefix(t, "STLS after login", c.Cmd("STLS"), "-ERR STLS is not valid in this state")
	if caps := c.Capa(); hasCapability(caps, "STLS") {
		t.Errorf("CAPA in TRANSACTION lists STLS: %q", caps)
	}
	pop3test.ExpectPrefix(t, "RETR over TLS", c.Cmd("RETR 1"), "+OK")
	if got := c.Multi(); got != "Subject: x\r\n\r\nbody\r\n" {
		t.Errorf("RETR over TLS: %q", got)
	}
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
}

// TestSTLSDiscardsInjectedCommands sends a command in the same packet as
// STLS, before the handshake (the CVE-2011-0411 attack): it must not run
// in the TLS session.
func TestSTLSDiscardsInjectedCommands(t *testing.T) {
	ts := newTestServer(t, withSTLS(t))
	ts.store.Add("alice", "x\n")
	c := ts.dial(t)
	c.Send("STLS\r\nUSER alice\r\n")
	pop3test.ExpectPrefix(t, "STLS", c.ReadLine(), "+OK Begin TLS negotiation")
	c.Upgrade(clientTLS(t))
	// Had "USER alice" run, PASS would log in; the session must have
	// forgotten it, and the first answer over TLS must be PASS's.
	if got := c.Cmd("PASS secret pw"); got != "-ERR Send USER first" {
		t.Errorf("PASS after injected USER: got %q, want -ERR Send USER first", got)
	}
	if got := c.Cmd("STAT"); got != "-ERR STAT is not valid in this state" {
		t.Errorf("STAT: got %q: the session is not in AUTHORIZATION", got)
	}
}

// TestSTLSForgetsUSER checks that a USER given before STLS is forgotten.
func TestSTLSForgetsUSER(t *testing.T) {
	ts := newTestServer(t, withSTLS(t))
	c := ts.dial(t)
	pop3test.ExpectPrefix(t, "USER", c.Cmd("USER alice"), "+OK")
	c.StartTLS(clientTLS(t))
	pop3test.ExpectPrefix(t, "PASS after STLS", c.Cmd("PASS secret pw"), "-ERR Send USER first")
}

func TestSTLSNotConfigured(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial(t)
	if caps := c.Capa(); hasCapability(caps, "STLS") {
		t.Errorf("CAPA lists STLS without starttls: %q", caps)
	}
	pop3test.ExpectPrefix(t, "STLS", c.Cmd("STLS"), "-ERR STLS is not available")
	pop3test.ExpectPrefix(t, "after STLS", c.Cmd("NOOP"), "-ERR NOOP is not valid")
}

func TestSTLSHandshakeFailure(t *testing.T) {
	ts := newTestServer(t, withSTLS(t))
	c := ts.dial(t)
	pop3test.ExpectPrefix(t, "STLS", c.Cmd("STLS"), "+OK")
	c.Send("USER alice\r\nPASS secret pw\r\n") // plaintext instead of a ClientHello
	_ = c.Conn().SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Reader().Read(buf)
	if err == nil && strings.Contains(string(buf[:n]), "+OK") {
		t.Fatalf("server answered plaintext after STLS: %q", buf[:n])
	}
	// The server sends at most a TLS alert, then closes.
	for err == nil {
		_, err = c.Reader().Read(buf)
	}
}

// TestSTLSPlaintextPolicy: on a clear, non-loopback connection, only STLS
// is offered; once TLS is up, USER and SASL are.
func TestSTLSPlaintextPolicy(t *testing.T) {
	ts := newTestServer(t, withSTLS(t), func(ts *testServer) { ts.loopback = false })
	ts.store.Add("alice", "x\n")
	c := ts.dial(t)
	caps := c.Capa()
	for _, banned := range []string{"USER", "SASL PLAIN LOGIN"} {
		if hasCapability(caps, banned) {
			t.Errorf("CAPA on a clear connection lists %q: %q", banned, caps)
		}
	}
	if !hasCapability(caps, "STLS") {
		t.Errorf("CAPA lacks STLS: %q", caps)
	}
	pop3test.ExpectPrefix(t, "USER in clear", c.Cmd("USER alice"), "-ERR [AUTH] Plaintext authentication is disabled")
	pop3test.ExpectPrefix(t, "AUTH PLAIN in clear", c.Cmd("AUTH PLAIN AGFsaWNlAHNlY3JldCBwdw=="), "-ERR [AUTH] Plaintext authentication is disabled")
	c.StartTLS(clientTLS(t))
	caps = c.Capa()
	for _, want := range []string{"USER", "SASL PLAIN LOGIN"} {
		if !hasCapability(caps, want) {
			t.Errorf("CAPA over TLS lacks %q: %q", want, caps)
		}
	}
	pop3test.ExpectPrefix(t, "AUTH PLAIN over TLS", c.Cmd("AUTH PLAIN AGFsaWNlAHNlY3JldCBwdw=="), "+OK Logged in")
}

// TestPOP3SSessionIsSecure serves the handler the way caddy-l4 does after
// its tls handler: the connection is a layer4.Connection around a
// tls.Conn. The session must know it is secure.
func TestPOP3SSessionIsSecure(t *testing.T) {
	ts := newTestServer(t, withSTLS(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := serverTLS(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		defer raw.Close()
		cx := layer4.WrapConnection(raw, nil, zap.NewNop())
		tlsConn := tls.Server(cx, cfg)
		if tlsConn.Handshake() != nil {
			return
		}
		_ = ts.h.Handle(cx.Wrap(tlsConn), nil)
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})

	conn, err := tls.Dial("tcp", ln.Addr().String(), clientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	c := pop3test.New(t, conn)
	pop3test.ExpectPrefix(t, "greeting", c.ReadLine(), "+OK")
	if caps := c.Capa(); hasCapability(caps, "STLS") {
		t.Errorf("CAPA over POP3S lists STLS: %q", caps)
	}
	pop3test.ExpectPrefix(t, "STLS over POP3S", c.Cmd("STLS"), "-ERR Command not permitted when TLS active")
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
}
