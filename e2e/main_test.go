//go:build linux

// Package e2e runs a real Caddy binary with caddy-l4 and caddy-pop3 built in
// and talks to it with real POP3 clients (curl, Python's poplib, mpop,
// fetchmail, Perl's Net::POP3) and with the caddy command line itself.
//
// The package holds tests only. TestMain builds ./cmd/caddy once into a
// temporary directory (with -race when the tests run with -race); every test
// then starts its own server on free loopback ports with its own maildirs.
// A client program that is not installed is a test failure, not a skip: the
// failure names the Debian package to install (see .ci/run).
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// caddyBin is the path of the Caddy binary that TestMain builds.
var caddyBin string

// buildTimeout bounds the one-time build of the Caddy binary.
const buildTimeout = 8 * time.Minute

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run builds the binary, runs the tests and removes the build directory; it
// returns the process exit code.
func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "caddy-pop3-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: creating build directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	caddyBin = filepath.Join(dir, "caddy")
	args := []string{"build", "-o", caddyBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/caddy")

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %v: %v\n%s", args, err, out)
		return 1
	}
	return m.Run()
}
