//go:build linux

package e2e

import (
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsHostname is the POP3 host name of the TLS test servers, the name in
// their certificate and the host clients connect to.
const tlsHostname = "localhost"

// internalCAGlobals are the global options that give the test servers
// certificates from Caddy's internal CA: no ACME and no change to the
// system trust store. The pop3 handlers make Caddy manage the certificate
// of their host name themselves (implicit_tls and starttls).
const internalCAGlobals = `local_certs
	skip_install_trust`

// tlsServerOptions changes the Caddyfile of a TLS test server.
type tlsServerOptions struct {
	// globals are global options; default internalCAGlobals.
	globals string
	// auth is the handlers' auth directive; default accounts with alice.
	auth string
	// extra are more pop3 subdirectives for both listeners.
	extra string
	// nofile, when set, is the RLIMIT_NOFILE caddy runs with.
	nofile uint64
}

// tlsServer is a running `caddy run` with two POP3 listeners for one mail
// root: POP3S (the pop3 handler's implicit_tls) and plain POP3 with
// STLS. The embedded server's Addr and Port are the STLS listener's.
type tlsServer struct {
	*server
	// TLSAddr and TLSPort are the POP3S listener's.
	TLSAddr string
	TLSPort int
	// CACert is the PEM file of the internal CA's root certificate, in the
	// server's own data directory.
	CACert string
}

// tlsCaddyfileTemplate is a TLS test server's config; the verbs are the
// admin port, the global options, the POP3S port, the STLS port, the mail
// root, the auth directive and the extra subdirectives. `debug` logs each
// login with its "tls" flag, which the tests check. Both listeners offer
// the ALPN protocol "pop3" (the default of implicit_tls and starttls).
const tlsCaddyfileTemplate = `{
	admin 127.0.0.1:%[1]d
	debug
	%[2]s
	layer4 {
		127.0.0.1:%[3]d {
			route {
				pop3 {
					hostname ` + tlsHostname + `
					storage maildir {
						path %[5]s/{pop3.user}/Maildir
					}
					%[6]s
					%[7]s
					implicit_tls
				}
			}
		}
		127.0.0.1:%[4]d {
			route {
				pop3 {
					hostname ` + tlsHostname + `
					storage maildir {
						path %[5]s/{pop3.user}/Maildir
					}
					%[6]s
					%[7]s
					starttls
				}
			}
		}
	}
}
`

// startTLSServer starts a Caddy with a POP3S and an STLS listener on free
// loopback ports, waits until both serve with a certificate from the
// internal CA, and stops it when the test ends.
func startTLSServer(t *testing.T, opts tlsServerOptions) *tlsServer {
	t.Helper()
	if opts.globals == "" {
		opts.globals = internalCAGlobals
	}
	if opts.auth == "" {
		opts.auth = defaultAuth(t)
	}
	dir := t.TempDir()
	return retryStart(t, func() (*tlsServer, error) { return tryStartTLSServer(t, dir, opts) })
}

func tryStartTLSServer(t *testing.T, dir string, opts tlsServerOptions) (*tlsServer, error) {
	t.Helper()
	adminPort, tlsPort, plainPort := freePort(t), freePort(t), freePort(t)
	home := filepath.Join(dir, "home")
	dataHome := filepath.Join(home, ".local", "share")
	s := &tlsServer{
		server: &server{
			Addr:     fmt.Sprintf("127.0.0.1:%d", plainPort),
			Port:     plainPort,
			MailRoot: filepath.Join(dir, "mail"),
			Dir:      dir,
			out:      &lockedBuffer{},
			exited:   make(chan struct{}),
			nofile:   opts.nofile,
		},
		TLSAddr: fmt.Sprintf("127.0.0.1:%d", tlsPort),
		TLSPort: tlsPort,
		CACert:  filepath.Join(dataHome, "caddy", "pki", "authorities", "local", "root.crt"),
	}
	for _, d := range []string{s.MailRoot, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	config := filepath.Join(dir, "Caddyfile")
	text := fmt.Sprintf(tlsCaddyfileTemplate, adminPort, opts.globals, tlsPort, plainPort, s.MailRoot, opts.auth, opts.extra)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		return nil, err
	}

	ready := func() error {
		if err := s.waitReady(); err != nil {
			return err
		}
		return s.waitCertificate()
	}
	if err := s.launch(t, []string{"run", "--config", config, "--adapter", "caddyfile"}, home, ready); err != nil {
		return nil, err
	}
	return s, nil
}

// waitCertificate waits until the internal CA's root exists and the POP3S
// listener greets over TLS with a certificate for tlsHostname that the
// root signed. Caddy obtains the certificate in the background after
// start, so the first handshakes may fail.
func (s *tlsServer) waitCertificate() error {
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("caddy exited: %v", s.cmd.ProcessState)
		default:
		}
		lastErr = s.probeTLSGreeting()
		if lastErr == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no POP3S greeting with a valid certificate on %s within %v: %v", s.TLSAddr, startTimeout, lastErr)
}

// clientTLSConfig returns a TLS client config that trusts only the
// server's internal CA.
func (s *tlsServer) clientTLSConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(s.CACert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", s.CACert)
	}
	return &tls.Config{RootCAs: pool, ServerName: tlsHostname, MinVersion: tls.VersionTLS12}, nil
}

// leafFingerprint returns the MD5 fingerprint (XX:XX:...) of the
// certificate the POP3S listener serves, after verifying it against the
// internal CA for tlsHostname.
func (s *tlsServer) leafFingerprint(t *testing.T) string {
	t.Helper()
	cfg, err := s.clientTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", s.TLSAddr, cfg)
	if err != nil {
		t.Fatalf("TLS to %s: %v", s.TLSAddr, err)
	}
	defer c.Close()
	sum := md5.Sum(c.ConnectionState().PeerCertificates[0].Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func (s *tlsServer) probeTLSGreeting() error {
	cfg, err := s.clientTLSConfig()
	if err != nil {
		return err
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", s.TLSAddr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	return probeSession(c)
}

// loginTLSFlags returns the "tls" flag of every login in the server's log
// so far (the handler logs each login at debug level).
func (s *tlsServer) loginTLSFlags() []string {
	var flags []string
	for _, line := range strings.Split(s.out.String(), "\n") {
		if !strings.Contains(line, `"msg":"logged in"`) {
			continue
		}
		switch {
		case strings.Contains(line, `"tls":true`):
			flags = append(flags, "true")
		case strings.Contains(line, `"tls":false`):
			flags = append(flags, "false")
		default:
			flags = append(flags, "missing")
		}
	}
	return flags
}
