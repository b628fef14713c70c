//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBehindProxyExample runs examples/behind-proxy: caddy-l4's proxy
// handler sends PROXY v2 headers to the pop3 listener, which trusts only
// it. A client on a test host retrieves mail with curl over STLS through
// the proxy and is logged under its own address; plaintext logins through
// the proxy are refused (the client is not loopback, though the proxy
// is); a direct connection to the pop3 listener without a header is
// closed before the greeting.
func TestBehindProxyExample(t *testing.T) {
	curl := requireTool(t, "curl", "curl")
	n := newTestNet(t, "client")
	client := n.Host(t, "client")

	example, err := os.ReadFile(filepath.Join("..", "examples", "behind-proxy", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := os.ReadFile(filepath.Join("..", "examples", "quickstart", "mail", "demo", "Maildir", "cur", "1700000000.M000000P0Q0.caddy-pop3,W=624:2,"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var front, back string
	s := retryStart(t, func() (*server, error) {
		adminPort, frontPort, backPort := freePort(t), freePort(t), freePort(t)
		front, back = mustAddrPort(n.ServerIP, frontPort), "127.0.0.1:"+strconv.Itoa(backPort)
		s := &server{Addr: front, Port: frontPort, MailRoot: filepath.Join(dir, "mail"), Dir: dir, out: &lockedBuffer{}, exited: make(chan struct{}), adminPort: adminPort}
		cur := filepath.Join(s.MailRoot, "demo", "Maildir", "cur")
		for _, d := range []string{cur, filepath.Join(s.MailRoot, "demo", "Maildir", "new"), filepath.Join(s.MailRoot, "demo", "Maildir", "tmp"), filepath.Join(dir, "home")} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(filepath.Join(cur, "1700000000.M000000P0Q0.caddy-pop3,W=624:2,"), msg, 0o600); err != nil {
			return nil, err
		}
		text := string(example)
		for _, r := range []struct{ old, new string }{
			{"{\n\tlocal_certs", fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tlocal_certs", adminPort)},
			{"127.0.0.1:1110", front},
			{"127.0.0.1:1111", back},
			{"examples/quickstart/mail", s.MailRoot},
		} {
			if !strings.Contains(text, r.old) {
				t.Fatalf("examples/behind-proxy/Caddyfile has no %q any more; update this test", r.old)
			}
			text = strings.ReplaceAll(text, r.old, r.new)
		}
		s.config = filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(s.config, []byte(text), 0o600); err != nil {
			return nil, err
		}
		if err := s.launch(t, []string{"run", "--config", s.config, "--adapter", "caddyfile"}, filepath.Join(dir, "home"), s.waitReady); err != nil {
			return nil, err
		}
		return s, nil
	})

	// Caddy gets the STLS certificate from its internal CA in the
	// background after start: try curl until it has one.
	root := filepath.Join(dir, "home", ".local", "share", "caddy", "pki", "authorities", "local", "root.crt")
	port := strconv.Itoa(s.Port)
	var stdout, stderr string
	code := -1
	for deadline := time.Now().Add(startTimeout); code != 0 && time.Now().Before(deadline); {
		stdout, stderr, code = client.Run(t, dir, curl, "--silent", "--show-error", "--max-time", "10",
			"--cacert", root, "--ssl-reqd", "--connect-to", "localhost:"+port+":"+n.ServerIP+":"+port,
			"pop3://demo:demo@localhost:"+port+"/1")
		if code != 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if code != 0 {
		t.Fatalf("curl through the proxy: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "Subject: Welcome to caddy-pop3") {
		t.Errorf("curl retrieved %q, want the demo message", stdout)
	}
	waitLogLines(t, s, 1, "session ended", `"remote_ip":"`+client.IP+`"`, `"user":"demo"`)

	p := dialFrom(t, client, front, nil)
	if r := p.Cmd("USER demo"); !strings.HasPrefix(r, plaintextRefused) {
		t.Errorf("plaintext USER through the proxy: %q, want %q", r, plaintextRefused)
	}
	p.Cmd("QUIT")

	d := dialTCP(t, back)
	if _, err := d.Write([]byte("CAPA\r\n")); err != nil {
		t.Fatal(err)
	}
	expectClosedSilently(t, "a direct connection to the pop3 listener", d)
	waitLogLines(t, s, 1, "connection refused", `"remote_ip":"127.0.0.1"`, "no PROXY header")
}
