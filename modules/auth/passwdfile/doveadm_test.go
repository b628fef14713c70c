package passwdfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDoveadm checks hashes made right now by Dovecot's `doveadm pw`. It is
// skipped when doveadm is not installed, except in CI (env CI set), where
// the dovecot-core package must be installed.
func TestDoveadm(t *testing.T) {
	doveadm, err := exec.LookPath("doveadm")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("doveadm not found; CI must install dovecot-core")
		}
		t.Skip("doveadm not found (install dovecot-core to run this test)")
	}
	schemes := []string{
		"SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "MD5-CRYPT", "CRYPT",
		"ARGON2ID", "ARGON2I", "PLAIN", "CLEAR", "PLAIN.BASE64", "SHA512-CRYPT.HEX",
	}
	const password = "correct horse battery staple" // no colon: it ends a passwd-file field
	var lines []string
	for i, scheme := range schemes {
		out, err := exec.Command(doveadm, "pw", "-s", scheme, "-p", password).Output()
		if err != nil {
			t.Fatalf("doveadm pw -s %s: %v", scheme, err)
		}
		hash := strings.TrimSpace(string(out))
		if !strings.HasPrefix(hash, "{") {
			t.Fatalf("doveadm pw -s %s printed %q", scheme, hash)
		}
		// Every field after the password, as doveadm users write them.
		lines = append(lines, "user"+string(rune('a'+i))+":"+hash+":1000:1000::/var/mail/u:/bin/false:")
	}
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, strings.Join(lines, "\n")+"\n", time.Now())
	p, _, logs := newModule(t, path)
	if n := logs.FilterMessageSnippet("unusable").Len(); n != 0 {
		t.Fatalf("unusable lines: %v", logs.All())
	}
	for i, scheme := range schemes {
		user := "user" + string(rune('a'+i))
		t.Run(scheme, func(t *testing.T) {
			check(t, p, attempt{user, password, true}, attempt{user, "correct horse", false})
		})
	}
}

// TestDoveadmDefaultScheme writes `doveadm pw` hashes without their
// {SCHEME} prefix, as a Dovecot passdb with `args = scheme=<SCHEME>` reads
// them, and checks them with DefaultScheme set the same way.
func TestDoveadmDefaultScheme(t *testing.T) {
	doveadm, err := exec.LookPath("doveadm")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("doveadm not found; CI must install dovecot-core")
		}
		t.Skip("doveadm not found (install dovecot-core to run this test)")
	}
	const password = "correct horse battery staple"
	for _, scheme := range []string{"SHA512-CRYPT", "BLF-CRYPT", "CRYPT", "ARGON2ID", "PLAIN", "PLAIN.BASE64", "SHA256-CRYPT.HEX"} {
		t.Run(scheme, func(t *testing.T) {
			out, err := exec.Command(doveadm, "pw", "-s", scheme, "-p", password).Output()
			if err != nil {
				t.Fatalf("doveadm pw -s %s: %v", scheme, err)
			}
			prefix := "{" + scheme + "}"
			hash, ok := strings.CutPrefix(strings.TrimSpace(string(out)), prefix)
			if !ok {
				t.Fatalf("doveadm pw -s %s printed %q, want the prefix %s", scheme, out, prefix)
			}
			dir := filepath.Join(t.TempDir(), "example.com")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "passwd"), "u@example.com:"+hash+":1000:1000::/var/mail/u:/bin/false:\n", time.Now())
			p, _, logs := newConfigured(t, &PasswdFile{
				Path:          filepath.Join(filepath.Dir(dir), "%d", "passwd"),
				DefaultScheme: strings.ToLower(scheme),
			})
			check(t, p, attempt{"u@example.com", password, true}, attempt{"u@example.com", "correct horse", false})
			if n := logs.FilterMessageSnippet("unusable").Len(); n != 0 {
				t.Fatalf("unusable lines: %v", logs.All())
			}
		})
	}
}
