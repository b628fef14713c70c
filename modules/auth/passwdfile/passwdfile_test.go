package passwdfile

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// clock is a clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// writeFile writes a passwd-file and sets its modification time to mtime,
// so that a rewrite is seen whatever the file system's time granularity.
func writeFile(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// newModule provisions a PasswdFile for path with a hand-moved clock and a
// logger whose entries the test can read.
func newModule(t *testing.T, path string) (*PasswdFile, *clock, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	c := &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := &PasswdFile{Path: path, logger: zap.New(core), now: c.Now}
	if err := p.provision(); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return p, c, logs
}

// check asserts the answers of Authenticate.
func check(t *testing.T, p *PasswdFile, attempts ...attempt) {
	t.Helper()
	for _, a := range attempts {
		got, err := p.Authenticate(context.Background(), a.user, a.password)
		if err != nil {
			t.Errorf("Authenticate(%q, %q): unexpected error %v", a.user, a.password, err)
		}
		if got != a.want {
			t.Errorf("Authenticate(%q, %q) = %v, want %v", a.user, a.password, got, a.want)
		}
	}
}

type attempt struct {
	user, password string
	want           bool
}

func TestAuthenticate(t *testing.T) {
	bcryptHash := lowCostBcrypt(t, "builder")
	file := strings.Join([]string{
		"# mail users",
		"",
		"alice:{PLAIN}wonderland",
		"bob@example.com:{BLF-CRYPT}" + bcryptHash + ":1000:1000::/home/bob:/bin/false",
		"carol:" + libcSHA512 + ":::::",
		"dave:" + doveMD5 + ":1001:1001:Dave,,,:/home/dave:/bin/sh:userdb_quota_rule=*:storage=1G",
		"erin:{CLEAR}pass:word:x",      // the password field ends at the first colon
		"frank:" + dovePLAINB64 + "\r", // a CRLF line
		"   ",
	}, "\n")
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, file, time.Now())
	p, _, _ := newModule(t, path)

	check(t, p,
		attempt{"alice", "wonderland", true},
		attempt{"alice", "Wonderland", false},
		attempt{"alice", "", false},
		attempt{"Alice", "wonderland", false}, // user names are case-sensitive
		attempt{"bob@example.com", "builder", true},
		attempt{"bob@example.com", "wonderland", false},
		attempt{"bob", "builder", false},
		attempt{"carol", "secret", true},
		attempt{"carol", "secret2", false},
		attempt{"dave", "secret", true},
		attempt{"erin", "pass", true},
		attempt{"erin", "pass:word", false},
		attempt{"frank", "secret", true},
		attempt{"mallory", "wonderland", false},
		attempt{"", "", false},
		attempt{"# mail users", "", false},
	)

	secrets := []struct {
		user, secret string
		ok           bool
	}{
		{"alice", "wonderland", true},
		{"erin", "pass", true},
		{"frank", "secret", true},
		{"bob@example.com", "", false},
		{"carol", "", false},
		{"mallory", "", false},
	}
	for _, s := range secrets {
		secret, ok, err := p.PlainSecret(context.Background(), s.user)
		if err != nil || ok != s.ok || secret != s.secret {
			t.Errorf("PlainSecret(%q) = %q, %v, %v; want %q, %v, nil", s.user, secret, ok, err, s.secret, s.ok)
		}
	}
}

func TestMalformedLines(t *testing.T) {
	file := strings.Join([]string{
		/* 1 */ "# comment",
		/* 2 */ "alice:{PLAIN}good",
		/* 3 */ "bob",
		/* 4 */ "carol:{ROT13}hunter2-carol",
		/* 5 */ "dave:{SHA512-CRYPT}$6$saltsalt$hunter2-dave",
		/* 6 */ "alice:{PLAIN}hunter2-alice",
		/* 7 */ "",
		/* 8 */ "erin:{PLAIN}hunter2-erin:1000:1000::/home/erin:/bin/false:nologin",
		/* 9 */ "frank:{PLAIN}hunter2-frank:::::: allow_nets=127.0.0.1",
		/* 10 */ "gina:{PLAIN}fine:1000",
		/* 11 */ "hank:",
		/* 12 */ "ivan:hunter2-ivan",
	}, "\n")
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, file, time.Now())
	p, _, logs := newModule(t, path)

	check(t, p,
		attempt{"alice", "good", true},
		attempt{"alice", "hunter2-alice", false},
		attempt{"gina", "fine", true},
		attempt{"bob", "", false},
		attempt{"carol", "hunter2-carol", false},
		attempt{"erin", "hunter2-erin", false},
		attempt{"frank", "hunter2-frank", false},
		attempt{"ivan", "hunter2-ivan", false},
	)

	want := []struct {
		line   int
		user   string
		level  zapcore.Level
		reason string
	}{
		{3, "bob", zapcore.WarnLevel, "no password"},
		{4, "carol", zapcore.WarnLevel, "unknown scheme {ROT13}"},
		{5, "dave", zapcore.WarnLevel, "malformed SHA512-CRYPT hash"},
		{6, "alice", zapcore.WarnLevel, "more than once"},
		{8, "erin", zapcore.DebugLevel, "nologin"},
		{9, "frank", zapcore.WarnLevel, "allow_nets"},
		{11, "hank", zapcore.WarnLevel, "no password"},
		{12, "ivan", zapcore.WarnLevel, "not a $id$ crypt hash"},
	}
	var lineLogs []observer.LoggedEntry
	for _, e := range logs.All() {
		if _, ok := e.ContextMap()["line"]; ok {
			lineLogs = append(lineLogs, e)
		}
	}
	if len(lineLogs) != len(want) {
		t.Fatalf("got %d log entries about lines, want %d: %v", len(lineLogs), len(want), lineLogs)
	}
	for i, w := range want {
		e := lineLogs[i]
		fields := e.ContextMap()
		if fields["line"] != int64(w.line) || fields["user"] != w.user || fields["file"] != path || e.Level != w.level {
			t.Errorf("log %d = %s %v, want line %d user %q file %q level %s", i, e.Level, fields, w.line, w.user, path, w.level)
		}
		if reason, _ := fields["reason"].(string); !strings.Contains(reason, w.reason) {
			t.Errorf("log %d reason = %q, want it to contain %q", i, reason, w.reason)
		}
	}
	// No log entry shows a password or a hash.
	for _, e := range logs.All() {
		text := e.Message
		for k, v := range e.ContextMap() {
			text += " " + k + "=" + toString(v)
		}
		if strings.Contains(text, "hunter2") || strings.Contains(text, "saltsalt") || strings.Contains(text, "good") {
			t.Errorf("a log entry shows a secret: %s", text)
		}
	}
}

// toString renders a logged field value.
func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestEveryLineBad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "alice:{ROT13}x\nbob\n", time.Now())
	p, _, logs := newModule(t, path)
	check(t, p, attempt{"alice", "x", false}, attempt{"bob", "", false})
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("no line of the passwd file is usable").Len(); n != 1 {
		t.Errorf("got %d error logs about no usable line, want 1; logs: %v", n, logs.All())
	}
}

func TestProvisionErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		want string
	}{
		{"no path", "", "passwd_file: path is required"},
		{"missing file", filepath.Join(dir, "nope"), `passwd_file: path "` + filepath.Join(dir, "nope") + `": open`},
		{"a directory", dir, `passwd_file: path "` + dir + `": is a directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			p := &PasswdFile{Path: tt.path}
			err := p.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Provision error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	mtime := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	writeFile(t, path, "alice:{PLAIN}one\n", mtime)
	p, c, logs := newModule(t, path)
	check(t, p, attempt{"alice", "one", true})

	// A change is not seen within a second of the last check...
	mtime = mtime.Add(time.Minute)
	writeFile(t, path, "alice:{PLAIN}two\nbob:{PLAIN}three\n", mtime)
	c.advance(999 * time.Millisecond)
	check(t, p, attempt{"alice", "one", true}, attempt{"bob", "three", false})

	// ...but it is after that.
	c.advance(time.Millisecond)
	check(t, p, attempt{"alice", "one", false}, attempt{"alice", "two", true}, attempt{"bob", "three", true})

	// A file replaced by a rename, with the same size and time: another inode.
	tmp := filepath.Join(dir, "users.new")
	writeFile(t, tmp, "alice:{PLAIN}TWO\nbob:{PLAIN}three\n", mtime)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	check(t, p, attempt{"alice", "two", false}, attempt{"alice", "TWO", true})

	// A file that disappears: the users stay, and the error is logged once.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c.advance(time.Second)
		check(t, p, attempt{"alice", "TWO", true}, attempt{"bob", "three", true})
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 1 {
		t.Errorf("got %d error logs for a missing file, want 1: %v", n, logs.FilterLevelExact(zapcore.ErrorLevel).All())
	}

	// A directory in its place: not readable as a file either.
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	check(t, p, attempt{"alice", "TWO", true})
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("cannot re-read").Len(); n != 2 {
		t.Errorf("got %d error logs, want 2 (missing, then a directory)", n)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}

	// The file comes back, with a line that has gone bad.
	mtime = mtime.Add(time.Minute)
	writeFile(t, path, "alice:{PLAIN}four\nbob:{NOPE}three\n", mtime)
	c.advance(time.Second)
	check(t, p, attempt{"alice", "four", true}, attempt{"bob", "three", false})
	if n := logs.FilterField(zap.Int("line", 2)).Len(); n != 1 {
		t.Errorf("got %d log entries for line 2, want 1", n)
	}
}

// TestConcurrentReload runs logins while the file changes, for the race
// detector.
// replaceFile writes content next to path and renames it into place, as
// README tells administrators to: a reader sees the old file or the new
// one, never half of one.
func replaceFile(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	tmp := path + ".new"
	writeFile(t, tmp, content, mtime)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	mtime := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	writeFile(t, path, "alice:{PLAIN}a\n", mtime)
	p, c, _ := newModule(t, path)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := p.Authenticate(context.Background(), "alice", "a"); err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
				_, _, _ = p.PlainSecret(context.Background(), "alice")
			}
		}()
	}
	for i := range 20 {
		mtime = mtime.Add(time.Second)
		replaceFile(t, path, "alice:{PLAIN}a\nbob:{PLAIN}"+strings.Repeat("b", i+1)+"\n", mtime)
		c.advance(time.Second)
		check(t, p, attempt{"alice", "a", true})
	}
	wg.Wait()
}

func TestDummy(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		dummyOf []string // users whose digest may be the dummy; none for the built-in
	}{
		{"most common cost wins", "a:" + libcSHA512 + "\nb:" + libcBcrypt + "\nc:{BLF-CRYPT}" + libcBcrypt + "\nd:{PLAIN}x\n", []string{"b", "c"}},
		{"first of a tie", "a:{PLAIN}x\nb:" + libcMD5 + "\n", []string{"a"}},
		{"no usable line", "a:{NOPE}x\n", nil},
		{"empty file", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, _, err := parse(strings.NewReader(tt.file), defaultScheme)
			if err != nil {
				t.Fatal(err)
			}
			if tt.dummyOf != nil {
				for _, user := range tt.dummyOf {
					if tab.dummy == tab.users[user].digest {
						return
					}
				}
				t.Errorf("the dummy is not the digest of any of %v", tt.dummyOf)
				return
			}
			if tab.dummy == nil || tab.dummy.Encode() != dummyHash {
				t.Errorf("dummy = %v, want the built-in hash", tab.dummy)
			}
		})
	}
}

// TestLoadModuleJSON loads the module the way the POP3 handler does: by ID,
// from the JSON a user writes.
func TestLoadModuleJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "alice:{PLAIN}wonderland\n", time.Now())
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	raw, _ := json.Marshal(map[string]string{"path": path})
	mod, err := ctx.LoadModuleByID("pop3.auth.passwd_file", raw)
	if err != nil {
		t.Fatalf("LoadModuleByID: %v", err)
	}
	a, ok := mod.(auth.Authenticator)
	if !ok {
		t.Fatalf("%T is not an auth.Authenticator", mod)
	}
	if _, ok := mod.(auth.SecretLookup); !ok {
		t.Fatalf("%T is not an auth.SecretLookup", mod)
	}
	if ok, err := a.Authenticate(context.Background(), "alice", "wonderland"); !ok || err != nil {
		t.Fatalf("Authenticate = %v, %v; want true, nil", ok, err)
	}
}

// TestTimingOutliersWarned: loading a file whose users' hashes differ in
// scheme or cost warns, naming the users whose failed logins take another
// time than an unknown user's; a uniform file does not.
func TestTimingOutliersWarned(t *testing.T) {
	const msg = "some users' password hashes have another scheme or cost than most"
	for _, tc := range []struct {
		name string
		file string
		want []string
	}{
		{"uniform", "a:" + libcSHA512 + "\nb:" + libcSHA512 + "\n", nil},
		{"a plain user among SHA512 ones", "a:" + libcSHA512 + "\nb:" + libcSHA512 + "\nc:{PLAIN}x\n", []string{"c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "users")
			writeFile(t, path, tc.file, time.Now())
			_, _, logs := newModule(t, path)
			var got []string
			for _, e := range logs.All() {
				if strings.HasPrefix(e.Message, msg) {
					if e.Level != zapcore.WarnLevel {
						t.Errorf("level %s", e.Level)
					}
					for _, u := range e.ContextMap()["examples"].([]any) {
						got = append(got, u.(string))
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("warned about %v, want %v", got, tc.want)
			}
		})
	}
}
