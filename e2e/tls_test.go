//go:build linux

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// tlsCertHostname is the host name of the POP3S test servers that use a
// testCert: a name in the certificate, so that Caddy manages none for it.
const tlsCertHostname = "localhost"

// testCert is a self-signed certificate for 127.0.0.1 and localhost that
// the server presents and the clients trust.
type testCert struct {
	// CertFile is the PEM certificate; clients use it as their CA file.
	CertFile string
	// KeyFile is the PEM private key.
	KeyFile string

	pool *x509.CertPool
}

// newTestCert makes a certificate valid for a day.
func newTestCert(t *testing.T) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		// fetchmail checks DNS names only, even for an IP address.
		DNSNames: []string{"localhost", "127.0.0.1"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &testCert{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(c.CertFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	c.pool.AppendCertsFromPEM(certPEM)
	return c
}

// clientConfig returns a TLS client config that trusts only c.
func (c *testCert) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: c.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// tlsConfigJSON returns a JSON config with a POP3S listener: the pop3
// handler's implicit_tls, with the test certificate loaded into Caddy's
// tls app (so the handler manages none: the loaded one covers its host
// name). It is also the test of the handler's JSON form.
func tlsConfigJSON(t *testing.T, adminPort, pop3Port int, mailRoot string, cert *testCert) string {
	t.Helper()
	type obj = map[string]any
	cfg := obj{
		"admin": obj{"listen": "127.0.0.1:" + strconv.Itoa(adminPort)},
		"apps": obj{
			"tls": obj{
				"certificates": obj{
					"load_files": []obj{{"certificate": cert.CertFile, "key": cert.KeyFile}},
				},
			},
			"layer4": obj{
				"servers": obj{
					"pop3s": obj{
						"listen": []string{"127.0.0.1:" + strconv.Itoa(pop3Port)},
						"routes": []obj{{
							"handle": []obj{
								{
									"handler":      "pop3",
									"hostname":     tlsCertHostname,
									"implicit_tls": obj{},
									"storage":      obj{"module": "maildir", "path": mailRoot + "/{pop3.user}/Maildir"},
									"auth": obj{
										"module":   "accounts",
										"hash":     obj{"algorithm": "bcrypt"},
										"accounts": []obj{{"username": testUser, "password": testPasswordHash(t)}},
									},
									"idle_timeout": "10m",
								},
							},
						}},
					},
				},
			},
		},
	}
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
