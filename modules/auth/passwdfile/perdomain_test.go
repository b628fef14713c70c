package passwdfile

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// newConfigured provisions p with a hand-moved clock and an observed
// logger.
func newConfigured(t *testing.T, p *PasswdFile) (*PasswdFile, *clock, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	c := &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	p.logger, p.now = zap.New(core), c.Now
	if err := p.provision(); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return p, c, logs
}

func TestPerDomainFiles(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"example.com", "example.org"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mtime := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	com := filepath.Join(dir, "example.com", "passwd")
	writeFile(t, com, "alice@example.com:{PLAIN}one\nbob@example.org:{PLAIN}wrongfile\n", mtime)
	writeFile(t, filepath.Join(dir, "example.org", "passwd"), "bob@example.org:{PLAIN}two\n", mtime)
	// The file of a user without a domain, which %d must never pick.
	writeFile(t, filepath.Join(dir, "passwd"), "carol:{PLAIN}three\n", mtime)

	// Nothing is read at load time: the files are read on first use.
	p, c, logs := newConfigured(t, &PasswdFile{Path: filepath.Join(dir, "%d", "passwd")})
	if n := logs.FilterMessage("passwd file loaded").Len(); n != 0 {
		t.Fatalf("%d files read at load time, want 0", n)
	}
	check(t, p,
		attempt{"alice@example.com", "one", true},
		attempt{"alice@example.com", "two", false},
		attempt{"bob@example.org", "two", true},
		// bob is in example.com's file too, but his domain's file counts.
		attempt{"bob@example.org", "wrongfile", false},
		attempt{"carol", "three", false},             // no domain
		attempt{"carol@", "three", false},            // empty domain
		attempt{"carol@example.net", "three", false}, // no such file
		attempt{"x@..", "three", false},              // not a path component
		attempt{"x@../passwd", "three", false},       // nor a path
	)
	if n := logs.FilterMessage("passwd file loaded").Len(); n != 2 {
		t.Errorf("%d files read, want 2 (each once)", n)
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 0 {
		t.Errorf("errors logged for bad or unknown names: %v", logs.FilterLevelExact(zapcore.ErrorLevel).All())
	}

	// A per-domain file is re-read when it changes, like the single one.
	mtime = mtime.Add(time.Minute)
	writeFile(t, com, "alice@example.com:{PLAIN}new\n", mtime)
	c.advance(time.Second)
	check(t, p, attempt{"alice@example.com", "one", false}, attempt{"alice@example.com", "new", true})

	// A domain's file that appears later is found.
	net := filepath.Join(dir, "example.net")
	if err := os.Mkdir(net, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(net, "passwd"), "carol@example.net:{PLAIN}three\n", mtime)
	c.advance(time.Second)
	check(t, p, attempt{"carol@example.net", "three", true})

	// A domain's file that is removed: that domain has no users any more.
	if err := os.Remove(filepath.Join(net, "passwd")); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	check(t, p, attempt{"carol@example.net", "three", false})
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 0 {
		t.Errorf("errors logged for a missing domain file: %v", logs.FilterLevelExact(zapcore.ErrorLevel).All())
	}
}

// TestPerDomainLocalPart uses %n and %d: one file per user.
func TestPerDomainLocalPart(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "example.com"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "example.com", "alice"), "alice@example.com:{PLAIN}one\n", time.Now())
	p, _, _ := newConfigured(t, &PasswdFile{Path: filepath.Join(dir, "%{domain}", "%n")})
	check(t, p, attempt{"alice@example.com", "one", true}, attempt{"bob@example.com", "one", false})
	if secret, ok, err := p.PlainSecret(context.Background(), "alice@example.com"); err != nil || !ok || secret != "one" {
		t.Fatalf("PlainSecret = %q, %v, %v", secret, ok, err)
	}
	if _, ok, err := p.PlainSecret(context.Background(), "alice"); err != nil || ok {
		t.Fatalf("PlainSecret of a name without domain: ok %v, err %v", ok, err)
	}
}

// TestPerDomainCacheBound checks that no more files than the bound stay
// cached, and that a dropped file is read again when needed.
func TestPerDomainCacheBound(t *testing.T) {
	dir := t.TempDir()
	const domains = 5
	for i := range domains {
		d := filepath.Join(dir, "d"+string(rune('0'+i)))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d, "passwd"), "u@"+filepath.Base(d)+":{PLAIN}pw\n", time.Now())
	}
	p, _, logs := newConfigured(t, &PasswdFile{Path: filepath.Join(dir, "%d", "passwd"), maxFiles: 2})
	for round := range 2 {
		for i := range domains {
			check(t, p, attempt{"u@d" + string(rune('0'+i)), "pw", true})
			if n := p.files.len(); n > 2 {
				t.Fatalf("round %d: %d files cached, want at most 2", round, n)
			}
		}
	}
	if n := logs.FilterMessage("passwd file loaded").Len(); n != 2*domains {
		t.Errorf("%d reads, want %d (every file dropped and read again)", n, 2*domains)
	}
	// Names that have no file do not grow the cache past the bound either.
	for i := range 50 {
		check(t, p, attempt{"u@none" + strings.Repeat("x", i), "pw", false})
	}
	if n := p.files.len(); n > 2 {
		t.Fatalf("%d files cached, want at most 2", n)
	}
}

// TestPerDomainUnreadable: a domain's file that exists but cannot be read
// is the server's fault, an error, not a wrong password.
func TestPerDomainUnreadable(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be cannot be read as one.
	if err := os.MkdirAll(filepath.Join(dir, "example.com", "passwd"), 0o700); err != nil {
		t.Fatal(err)
	}
	p, _, logs := newConfigured(t, &PasswdFile{Path: filepath.Join(dir, "%d", "passwd")})
	for range 3 {
		ok, err := p.Authenticate(context.Background(), "alice@example.com", "pw")
		if ok || err == nil {
			t.Fatalf("Authenticate = %v, %v; want false and an error", ok, err)
		}
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 1 {
		t.Errorf("%d errors logged, want 1", n)
	}
}

// TestPerDomainTraversal makes sure a name cannot reach a file outside
// the template's place, even when such a file exists.
func TestPerDomainTraversal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("paths with / only")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "mail", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	// /dir/mail/../passwd = /dir/passwd
	writeFile(t, filepath.Join(dir, "passwd"), "a@..:{PLAIN}pw\na@x/..:{PLAIN}pw\n", time.Now())
	p, _, _ := newConfigured(t, &PasswdFile{Path: filepath.Join(dir, "mail", "%d", "passwd")})
	check(t, p, attempt{"a@..", "pw", false}, attempt{"a@x/..", "pw", false})
}

func TestDefaultScheme(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	writeFile(t, path, strings.Join([]string{
		"alice:secret",
		"bob:{PLAIN}other",
		"carol:" + dummyHash, // not PLAIN: the text of the hash is the password
		"dave:c2VjcmV0",
	}, "\n")+"\n", time.Now())

	p, _, _ := newConfigured(t, &PasswdFile{Path: path, DefaultScheme: "plain"})
	check(t, p,
		attempt{"alice", "secret", true},
		attempt{"bob", "other", true},
		attempt{"carol", "secret", false},
		attempt{"carol", dummyHash, true},
	)
	if secret, ok, _ := p.PlainSecret(context.Background(), "alice"); !ok || secret != "secret" {
		t.Fatalf("PlainSecret(alice) = %q, %v", secret, ok)
	}

	p, _, _ = newConfigured(t, &PasswdFile{Path: path, DefaultScheme: "PLAIN.B64"})
	check(t, p, attempt{"dave", "secret", true}, attempt{"bob", "other", true})

	// Without scheme: bare values are crypt(3) hashes, as before.
	p, _, logs := newConfigured(t, &PasswdFile{Path: path})
	check(t, p, attempt{"alice", "secret", false}, attempt{"carol", "secret", true})
	if n := logs.FilterMessageSnippet("unusable").Len(); n != 2 {
		t.Errorf("%d unusable lines, want 2 (alice and dave)", n)
	}

	// A scheme that names a crypt type refuses the others.
	p, _, logs = newConfigured(t, &PasswdFile{Path: path, DefaultScheme: "BLF-CRYPT"})
	check(t, p, attempt{"carol", "secret", false}, attempt{"bob", "other", true})
	if n := logs.FilterMessageSnippet("unusable").Len(); n != 3 {
		t.Errorf("%d unusable lines, want 3", n)
	}
}

func TestDefaultSchemeErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "alice:{PLAIN}x\n", time.Now())
	for scheme, want := range map[string]string{
		"NOPE":         `passwd_file: default_scheme: unknown scheme "NOPE"`,
		"SSHA512":      `passwd_file: default_scheme: scheme "SSHA512" is not supported`,
		"PLAIN.BASE32": `unknown encoding "BASE32"`,
	} {
		p := &PasswdFile{Path: path, DefaultScheme: scheme, logger: zap.NewNop()}
		err := p.provision()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("scheme %q: error %v, want one containing %q", scheme, err, want)
		}
	}
	p := &PasswdFile{Path: "/etc/%x/passwd", logger: zap.NewNop()}
	if err := p.provision(); err == nil || !strings.Contains(err.Error(), `passwd_file: path "/etc/%x/passwd": unknown variable %x`) {
		t.Errorf("bad template: error %v", err)
	}
}

// TestPerDomainConcurrent runs logins to several domains, through a cache
// smaller than the number of domains, while their files change: every
// login that must succeed does, for the race detector.
func TestPerDomainConcurrent(t *testing.T) {
	dir := t.TempDir()
	const domains = 3
	mtime := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	file := func(i int) string { return filepath.Join(dir, "d"+string(rune('0'+i)), "passwd") }
	for i := range domains {
		if err := os.Mkdir(filepath.Dir(file(i)), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, file(i), "u@d"+string(rune('0'+i))+":{PLAIN}a\n", mtime)
	}
	p, c, _ := newConfigured(t, &PasswdFile{Path: filepath.Join(dir, "%d", "passwd"), maxFiles: 2})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 200 {
				user := "u@d" + string(rune('0'+(n+g)%domains))
				ok, err := p.Authenticate(context.Background(), user, "a")
				if err != nil || !ok {
					t.Errorf("goroutine %d: Authenticate(%s) = %v, %v", g, user, ok, err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		mtime = mtime.Add(time.Second)
		d := i % domains
		replaceFile(t, file(d), "u@d"+string(rune('0'+d))+":{PLAIN}a\nv:{PLAIN}"+strings.Repeat("b", i+1)+"\n", mtime)
		c.advance(time.Second)
	}
	wg.Wait()
}
