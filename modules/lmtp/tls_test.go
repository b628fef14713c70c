package lmtp

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// selfSigned is a server TLS config with a throwaway certificate for
// lmtp.test.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lmtp.test"},
		DNSNames:     []string{"lmtp.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// upgrade makes cl talk TLS from now on.
func (cl *client) upgrade() {
	cl.t.Helper()
	tc := tls.Client(cl.c, &tls.Config{ServerName: "lmtp.test", InsecureSkipVerify: true}) //nolint:gosec // a throwaway test certificate
	if err := tc.Handshake(); err != nil {
		cl.t.Fatalf("TLS handshake: %v", err)
	}
	cl.c, cl.r = tc, bufio.NewReader(tc)
}

func TestStartTLS(t *testing.T) {
	store := &fakeStore{}
	cfg := selfSigned(t)
	h := &Handler{startTLS: func() *tls.Config { return cfg }}
	addr := testServer(t, h, store)
	cl := dial(t, addr)
	expect(t, "greeting", cl.reply(), "220 ")
	cl.send("LHLO mta.test\r\n")
	var sawStartTLS bool
	for {
		line, err := cl.r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		sawStartTLS = sawStartTLS || line[4:] == "STARTTLS\r\n"
		if line[3] == ' ' {
			break
		}
	}
	if !sawStartTLS {
		t.Fatal("LHLO does not offer STARTTLS")
	}
	// A command pipelined after STARTTLS in plaintext must not reach the
	// TLS session (CVE-2011-0411).
	cl.send("STARTTLS\r\nMAIL FROM:<injected@x.test>\r\n")
	expect(t, "STARTTLS", cl.reply(), "220 ")
	cl.upgrade()
	expect(t, "RCPT before MAIL", cl.cmd("RCPT TO:<a@example.com>"), "502 ")
	expect(t, "LHLO after TLS", cl.cmd("LHLO mta.test"), "250 ")
	cl.startData("s@x.test", "a@example.com")
	cl.send(testMessage + ".\r\n")
	expect(t, "reply", cl.reply(), "250 2.0.0 <a@example.com>")
	if got := store.deliveries(); len(got) != 1 {
		t.Fatalf("deliveries = %d, want 1", len(got))
	}
}

func TestImplicitTLS(t *testing.T) {
	store := &fakeStore{}
	cfg := selfSigned(t)
	h := &Handler{implicit: func() *tls.Config { return cfg }}
	addr := testServer(t, h, store)
	cl := dial(t, addr)
	cl.upgrade()
	cl.greet()
	cl.startData("s@x.test", "a@example.com")
	cl.send(testMessage + ".\r\n")
	expect(t, "reply", cl.reply(), "250 2.0.0 <a@example.com>")
	if got := store.deliveries(); len(got) != 1 {
		t.Fatalf("deliveries = %d, want 1", len(got))
	}
}
