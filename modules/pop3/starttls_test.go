package pop3

import (
	"bufio"
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

// startTLS sends STLS, expects +OK and nothing more, and does the client
// side of the handshake.
func (c *testClient) startTLS(cfg *tls.Config) {
	c.t.Helper()
	expectPrefix(c.t, "STLS", c.cmd("STLS"), "+OK")
	c.upgrade(cfg)
}

// upgrade does the client side of the handshake after +OK to STLS.
func (c *testClient) upgrade(cfg *tls.Config) {
	c.t.Helper()
	if n := c.r.Buffered(); n > 0 {
		c.t.Fatalf("the server sent %d more bytes after +OK to STLS", n)
	}
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// capa returns the capability lines.
func (c *testClient) capa() []string {
	c.t.Helper()
	expectPrefix(c.t, "CAPA", c.cmd("CAPA"), "+OK")
	return strings.Split(strings.TrimSuffix(c.multi(), "\r\n"), "\r\n")
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
	if caps := c.capa(); !hasCapability(caps, "STLS") {
		t.Errorf("CAPA before TLS lacks STLS: %q", caps)
	}
	c.startTLS(clientTLS(t))
	if caps := c.capa(); hasCapability(caps, "STLS") {
		t.Errorf("CAPA after TLS lists STLS: %q", caps)
	}
	expectPrefix(t, "second STLS", c.cmd("STLS"), "-ERR Command not permitted when TLS active")
	c.login("alice", "secret pw")
	expectPrefix(t, "STLS after login", c.cmd("STLS"), "-ERR STLS is not valid in this state")
	if caps := c.capa(); hasCapability(caps, "STLS") {
		t.Errorf("CAPA in TRANSACTION lists STLS: %q", caps)
	}
	expectPrefix(t, "RETR over TLS", c.cmd("RETR 1"), "+OK")
	if got := c.multi(); got != "Subject: x\r\n\r\nbody\r\n" {
		t.Errorf("RETR over TLS: %q", got)
	}
	expectPrefix(t, "QUIT", c.cmd("QUIT"), "+OK")
}

// TestSTLSDiscardsInjectedCommands sends a command in the same packet as
// STLS, before the handshake (the CVE-2011-0411 attack): it must not run
// in the TLS session.
func TestSTLSDiscardsInjectedCommands(t *testing.T) {
	ts := newTestServer(t, withSTLS(t))
	ts.store.Add("alice", "x\n")
	c := ts.dial(t)
	c.send("STLS\r\nUSER alice\r\n")
	expectPrefix(t, "STLS", c.readLine(), "+OK Begin TLS negotiation")
	c.upgrade(clientTLS(t))
	// Had "USER alice" run, PASS would log in; the session must have
	// forgotten it, and the first answer over TLS must be PASS's.
	if got := c.cmd("PASS secret pw"); got != "-ERR Send USER first" {
		t.Errorf("PASS after injected USER: got %q, want -ERR Send USER first", got)
	}
	if got := c.cmd("STAT"); got != "-ERR STAT is not valid in this state" {
		t.Errorf("STAT: got %q: the session is not in AUTHORIZATION", got)
	}
}

// TestSTLSForgetsUSER checks that a USER given before STLS is forgotten.
func TestSTLSForgetsUSER(t *testing.T) {
	ts := newTestServer(t, withSTLS(t))
	c := ts.dial(t)
	expectPrefix(t, "USER", c.cmd("USER alice"), "+OK")
	c.startTLS(clientTLS(t))
	expectPrefix(t, "PASS after STLS", c.cmd("PASS secret pw"), "-ERR Send USER first")
}

func TestSTLSNotConfigured(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial(t)
	if caps := c.capa(); hasCapability(caps, "STLS") {
		t.Errorf("CAPA lists STLS without starttls: %q", caps)
	}
	expectPrefix(t, "STLS", c.cmd("STLS"), "-ERR STLS is not available")
	expectPrefix(t, "after STLS", c.cmd("NOOP"), "-ERR NOOP is not valid")
}

func TestSTLSHandshakeFailure(t *testing.T) {
	ts := newTestServer(t, withSTLS(t))
	c := ts.dial(t)
	expectPrefix(t, "STLS", c.cmd("STLS"), "+OK")
	c.send("USER alice\r\nPASS secret pw\r\n") // plaintext instead of a ClientHello
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, err := c.r.Read(buf)
	if err == nil && strings.Contains(string(buf[:n]), "+OK") {
		t.Fatalf("server answered plaintext after STLS: %q", buf[:n])
	}
	// The server sends at most a TLS alert, then closes.
	for err == nil {
		_, err = c.r.Read(buf)
	}
}

// TestSTLSPlaintextPolicy: on a clear, non-loopback connection, only STLS
// is offered; once TLS is up, USER and SASL are.
func TestSTLSPlaintextPolicy(t *testing.T) {
	ts := newTestServer(t, withSTLS(t), func(ts *testServer) { ts.loopback = false })
	ts.store.Add("alice", "x\n")
	c := ts.dial(t)
	caps := c.capa()
	for _, banned := range []string{"USER", "SASL PLAIN LOGIN"} {
		if hasCapability(caps, banned) {
			t.Errorf("CAPA on a clear connection lists %q: %q", banned, caps)
		}
	}
	if !hasCapability(caps, "STLS") {
		t.Errorf("CAPA lacks STLS: %q", caps)
	}
	expectPrefix(t, "USER in clear", c.cmd("USER alice"), "-ERR [AUTH] Plaintext authentication is disabled")
	expectPrefix(t, "AUTH PLAIN in clear", c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldCBwdw=="), "-ERR [AUTH] Plaintext authentication is disabled")
	c.startTLS(clientTLS(t))
	caps = c.capa()
	for _, want := range []string{"USER", "SASL PLAIN LOGIN"} {
		if !hasCapability(caps, want) {
			t.Errorf("CAPA over TLS lacks %q: %q", want, caps)
		}
	}
	expectPrefix(t, "AUTH PLAIN over TLS", c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldCBwdw=="), "+OK Logged in")
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
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &testClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	t.Cleanup(func() { conn.Close() })
	expectPrefix(t, "greeting", c.readLine(), "+OK")
	if caps := c.capa(); hasCapability(caps, "STLS") {
		t.Errorf("CAPA over POP3S lists STLS: %q", caps)
	}
	expectPrefix(t, "STLS over POP3S", c.cmd("STLS"), "-ERR Command not permitted when TLS active")
	expectPrefix(t, "QUIT", c.cmd("QUIT"), "+OK")
}
