//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// caddyRun runs the Caddy binary with args and fails the test unless it
// exits with status 0; it returns stdout.
func caddyRun(t *testing.T, args ...string) string {
	t.Helper()
	home := t.TempDir()
	stdout, stderr, code := runCommand(t, "", []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_DATA_HOME=" + home}, caddyBin, args...)
	if code != 0 {
		t.Fatalf("caddy %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
	}
	return stdout
}

func TestListModules(t *testing.T) {
	t.Parallel()
	out := caddyRun(t, "list-modules")
	modules := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		modules[strings.TrimSpace(line)] = true
	}
	for _, id := range []string{
		"layer4",
		"layer4.handlers.pop3",
		"pop3.storage.maildir",
		"pop3.auth.accounts",
		"http.authentication.hashes.bcrypt",
		"http.authentication.hashes.argon2id",
	} {
		if !modules[id] {
			t.Errorf("caddy list-modules does not list %s", id)
		}
	}
}

// adaptCaddyfile is adapted by TestAdaptAndValidate.
const adaptCaddyfile = `{
	layer4 {
		127.0.0.1:1110 {
			route {
				pop3 {
					hostname mail.example.com
					storage maildir {
						path /var/mail/{pop3.user}/Maildir
					}
					auth accounts bcrypt {
						alice $2a$04$0eSePwIjj/eEqWUKiUlqXe/RXNCSUUk21fWlFaGmBTic1L1Xvv31i
					}
					idle_timeout 10m
				}
			}
		}
	}
}
`

func TestAdaptAndValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(adaptCaddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	out := caddyRun(t, "adapt", "--config", config, "--adapter", "caddyfile")

	var cfg struct {
		Apps struct {
			Layer4 struct {
				Servers map[string]struct {
					Listen []string `json:"listen"`
					Routes []struct {
						Handle []map[string]json.RawMessage `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"layer4"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("caddy adapt printed no JSON config: %v\n%s", err, out)
	}
	srv, ok := cfg.Apps.Layer4.Servers["srv0"]
	if !ok || len(srv.Listen) != 1 || srv.Listen[0] != "127.0.0.1:1110" || len(srv.Routes) != 1 || len(srv.Routes[0].Handle) != 1 {
		t.Fatalf("adapted layer4 app has not the one server, listener and handler of the Caddyfile:\n%s", out)
	}
	h := srv.Routes[0].Handle[0]
	for key, want := range map[string]string{
		"handler":      `"pop3"`,
		"hostname":     `"mail.example.com"`,
		"idle_timeout": `600000000000`,
	} {
		if got := string(h[key]); got != want {
			t.Errorf("handler %s: got %s, want %s", key, got, want)
		}
	}
	var storage struct {
		Module string `json:"module"`
		Path   string `json:"path"`
	}
	if err := json.Unmarshal(h["storage"], &storage); err != nil || storage.Module != "maildir" || storage.Path != "/var/mail/{pop3.user}/Maildir" {
		t.Errorf("handler storage: got %s", h["storage"])
	}
	var auth struct {
		Module string `json:"module"`
	}
	if err := json.Unmarshal(h["auth"], &auth); err != nil || auth.Module != "accounts" || !strings.Contains(string(h["auth"]), `"alice"`) {
		t.Errorf("handler auth: got %s", h["auth"])
	}

	// caddy validate loads and provisions the whole config without serving.
	caddyRun(t, "validate", "--config", config, "--adapter", "caddyfile")
}

func TestHashPasswordLogin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		algorithm string
		flags     []string
		prefix    string
	}{
		// The default bcrypt cost (14) takes over a minute to hash and
		// to check in a -race binary; the hash format is the same.
		{algorithm: "bcrypt", flags: []string{"--bcrypt-cost", "10"}, prefix: "$2a$10$"},
		{algorithm: "argon2id", prefix: "$argon2id$"},
	} {
		t.Run(tc.algorithm, func(t *testing.T) {
			t.Parallel()
			const password = "correct horse battery staple"
			args := append([]string{"hash-password", "--algorithm", tc.algorithm, "--plaintext", password}, tc.flags...)
			hash := strings.TrimSpace(caddyRun(t, args...))
			if !strings.HasPrefix(hash, tc.prefix) {
				t.Fatalf("caddy hash-password --algorithm %s: got %q, want a %s... hash", tc.algorithm, hash, tc.prefix)
			}
			s := startServer(t, serverOptions{
				auth: "auth accounts " + tc.algorithm + " {\n\t\t\t\t\t\t" + testUser + " " + hash + "\n\t\t\t\t\t}",
			})

			c := dialPOP3(t, s.Addr)
			if r := c.LoginReply(testUser, "wrong "+password); !strings.HasPrefix(r, "-ERR [AUTH]") {
				t.Errorf("PASS with a wrong password: got %q, want -ERR [AUTH] ...", r)
			}
			c = dialPOP3(t, s.Addr)
			if r := c.LoginReply(testUser, password); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("PASS with the hashed password: got %q, want +OK", r)
			}
			if r := c.Cmd("STAT"); r != "+OK 0 0" {
				t.Errorf("STAT of an empty maildrop: got %q, want \"+OK 0 0\"", r)
			}
			if r := c.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
				t.Errorf("QUIT: %q", r)
			}
		})
	}
}
