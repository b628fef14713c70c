//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"golang.org/x/crypto/bcrypt"
)

// The account every test server has.
const (
	testUser     = "alice"
	testPassword = "wonderland"
	testHostname = "test.example"
)

// Bounds of the server's lifecycle.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
	startTries   = 3
)

// bcryptCost keeps hashing cheap under -race; production hashes (cost 14)
// are exercised once by TestHashPasswordLogin.
const bcryptCost = 4

var (
	aliceHashOnce sync.Once
	aliceHash     string
)

// testPasswordHash returns a bcrypt hash of testPassword.
func testPasswordHash(t *testing.T) string {
	t.Helper()
	aliceHashOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcryptCost)
		if err == nil {
			aliceHash = string(h)
		}
	})
	if aliceHash == "" {
		t.Fatal("hashing the test password failed")
	}
	return aliceHash
}

// serverOptions changes the config of a test server.
type serverOptions struct {
	// auth is the handler's auth directive, block included. The default
	// is "auth accounts bcrypt { alice <hash of testPassword> }".
	auth string

	// tls, when set, makes the listener implicit TLS (POP3S): the config
	// is then JSON, with the pop3 handler's implicit_tls and cert loaded
	// into Caddy's tls app; auth is ignored (alice only).
	tls *testCert

	// mailRoot, when set, is the MailRoot to serve instead of a new one:
	// a second server on the same maildirs.
	mailRoot string

	// maildir, when set, is more subdirectives of `storage maildir`.
	maildir string
}

// server is a running `caddy run` process with one POP3 listener.
type server struct {
	// Addr is the POP3 listener, 127.0.0.1:port.
	Addr string
	// Port is the POP3 listener's port.
	Port int
	// MailRoot holds the maildirs: MailRoot/<user>/Maildir.
	MailRoot string
	// Dir is the server's private temporary directory.
	Dir string

	cmd       *exec.Cmd
	out       *lockedBuffer
	exited    chan struct{}
	tls       *tls.Config // for the readiness probe of a POP3S listener
	adminPort int
	config    string // the Caddyfile
	auth      string // the auth directive in the Caddyfile
	maildir   string // more subdirectives of storage maildir
	// nofile, when set, is the RLIMIT_NOFILE (soft and hard) caddy runs
	// with, set by prlimit(1).
	nofile uint64
	// env is added to caddy's environment (NAME=value).
	env []string
}

// caddyfile returns the server's Caddyfile with the given host name.
func (s *server) caddyfile(hostname string) string {
	return fmt.Sprintf(caddyfileTemplate, s.adminPort, s.Port, hostname, s.MailRoot, s.maildir, s.auth)
}

// Maildir returns the maildir of user.
func (s *server) Maildir(user string) string {
	return filepath.Join(s.MailRoot, user, "Maildir")
}

// caddyfileTemplate is the test server's config; the verbs are the admin
// port, the POP3 port, the host name, the mail root and the auth directive.
const caddyfileTemplate = `{
	admin 127.0.0.1:%d
	layer4 {
		127.0.0.1:%d {
			route {
				pop3 {
					hostname %s
					storage maildir {
						path %s/{pop3.user}/Maildir
						%s
					}
					%s
					idle_timeout 10m
				}
			}
		}
	}
}
`

// startServer starts a Caddy with a POP3 listener on a free loopback port,
// waits until it greets, and stops it when the test ends.
func startServer(t *testing.T, opts serverOptions) *server {
	t.Helper()
	if opts.auth == "" {
		opts.auth = defaultAuth(t)
	}
	dir := t.TempDir()
	return retryStart(t, func() (*server, error) { return tryStartServer(t, dir, opts) })
}

// defaultAuth is the auth directive of test servers: alice with
// testPassword.
func defaultAuth(t *testing.T) string {
	return "auth accounts bcrypt {\n\t\t\t\t\t\t" + testUser + " " + testPasswordHash(t) + "\n\t\t\t\t\t}"
}

// retryStart calls start until it succeeds, trying other ports (a new
// call picks new ones) when another process took one, at most startTries
// times.
func retryStart[S any](t *testing.T, start func() (S, error)) S {
	t.Helper()
	for try := 1; ; try++ {
		s, err := start()
		if err == nil {
			return s
		}
		if errors.Is(err, errPortTaken) && try < startTries {
			t.Logf("start attempt %d: %v; retrying with other ports", try, err)
			continue
		}
		t.Fatalf("starting caddy: %v", err)
	}
}

// errPortTaken means another process took a port between picking and use.
var errPortTaken = errors.New("port already in use")

func tryStartServer(t *testing.T, dir string, opts serverOptions) (*server, error) {
	t.Helper()
	adminPort, pop3Port := freePort(t), freePort(t)
	s := &server{
		Addr:     fmt.Sprintf("127.0.0.1:%d", pop3Port),
		Port:     pop3Port,
		MailRoot: filepath.Join(dir, "mail"),
		Dir:      dir,
		out:      &lockedBuffer{},
		exited:   make(chan struct{}),
	}
	if opts.mailRoot != "" {
		s.MailRoot = opts.mailRoot
	}
	home := filepath.Join(dir, "home")
	for _, d := range []string{s.MailRoot, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	config := filepath.Join(dir, "Caddyfile")
	s.adminPort, s.config, s.auth, s.maildir = adminPort, config, opts.auth, opts.maildir
	text := s.caddyfile(testHostname)
	args := []string{"run", "--config", config, "--adapter", "caddyfile"}
	if opts.tls != nil {
		config = filepath.Join(dir, "caddy.json")
		text = tlsConfigJSON(t, adminPort, pop3Port, s.MailRoot, opts.tls)
		args = []string{"run", "--config", config}
		s.tls = opts.tls.clientConfig()
	}
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		return nil, err
	}

	if err := s.launch(t, args, home, s.waitReady); err != nil {
		return nil, err
	}
	return s, nil
}

// launch runs `caddy <args...>` with home as its HOME and XDG folders (so
// Caddy's data directory, with its internal CA, is the test's), waits until
// ready says it serves, and stops it when the test ends. A port that
// another process took is reported as errPortTaken.
func (s *server) launch(t *testing.T, args []string, home string, ready func() error) error {
	t.Helper()
	s.cmd = exec.Command(caddyBin, args...)
	if s.nofile > 0 {
		// prlimit sets the limit and then execs caddy: same process.
		prlimit := requireTool(t, "prlimit", "util-linux")
		s.cmd = exec.Command(prlimit, fmt.Sprintf("--nofile=%d:%d", s.nofile, s.nofile), caddyBin)
		s.cmd.Args = append(s.cmd.Args, args...)
	}
	s.cmd.Env = append(os.Environ(),
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
	)
	s.cmd.Env = append(s.cmd.Env, s.env...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()

	if err := ready(); err != nil {
		s.stop()
		out := s.out.String()
		if strings.Contains(out, "address already in use") {
			return fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return fmt.Errorf("%v; caddy output:\n%s", err, out)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("caddy output:\n%s", s.out.String())
		}
	})
	return nil
}

// waitReady waits until the POP3 listener answers with a +OK greeting.
func (s *server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("caddy exited before greeting: %v", s.cmd.ProcessState)
		default:
		}
		lastErr = probeGreeting(s.Addr, s.tls)
		if lastErr == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no +OK greeting on %s within %v: %v", s.Addr, startTimeout, lastErr)
}

// probeGreeting connects (with TLS when tlsConfig is set), expects a +OK
// greeting and says QUIT.
func probeGreeting(addr string, tlsConfig *tls.Config) error {
	raw, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer raw.Close()
	c := raw
	if tlsConfig != nil {
		c = tls.Client(raw, tlsConfig)
	}
	return probeSession(c)
}

// probeSession expects a +OK greeting on c and says QUIT, within a few
// seconds; the handshake of a TLS c is part of the first read.
func probeSession(c net.Conn) error {
	const timeout = 2 * time.Second
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	p := pop3test.NewConn(c)
	p.SetTimeout(timeout)
	line, err := p.ReadLine()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+OK") {
		return fmt.Errorf("greeting %q", line)
	}
	_, err = p.Cmd("QUIT")
	return err
}

// stop sends SIGTERM, then SIGKILL if caddy has not exited in time.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// handedOut holds the ports freePort returned in this test binary.
// Caddy binds with SO_REUSEPORT, so two servers of parallel tests that
// were given the same port would share it silently instead of failing.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a loopback TCP port that was free a moment ago and that
// no other test of this binary was given.
func freePort(t *testing.T) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("picking a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("no free port found that was not already handed out")
	return 0
}

// lockedBuffer collects a process's output for the test log.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// commandTimeout bounds every client program a test runs.
const commandTimeout = 60 * time.Second

// runCommand runs a program with a bounded time, in dir, with extra
// environment variables, and returns its stdout, stderr and exit code. It
// fails the test when the program cannot be run or times out.
func runCommand(t *testing.T, dir string, env []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q timed out after %v\nstdout:\n%s\nstderr:\n%s", name, args, commandTimeout, o.String(), e.String())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		t.Fatalf("running %s: %v", name, err)
	}
	return o.String(), e.String(), code
}

// requireTool returns the path of a client program, or fails the test
// naming the Debian package that provides it.
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (apt-get install %s): %v", name, debianPackage, err)
	}
	return p
}
