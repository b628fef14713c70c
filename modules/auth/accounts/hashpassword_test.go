package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// hashPassword runs Caddy's own `caddy hash-password` command in this
// process with args and returns what it prints.
func hashPassword(t *testing.T, args ...string) string {
	t.Helper()
	command, ok := caddycmd.Commands()["hash-password"]
	if !ok {
		t.Fatal("the hash-password command is not registered")
	}
	cmd := &cobra.Command{Use: command.Name}
	command.CobraFunc(cmd)
	cmd.SetArgs(args)

	// The command prints the hash on os.Stdout.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		out <- b
	}()
	runErr := cmd.Execute()
	os.Stdout = stdout
	_ = w.Close()
	printed := <-out
	_ = r.Close()
	if runErr != nil {
		t.Fatalf("caddy hash-password %s: %v", strings.Join(args, " "), runErr)
	}
	return string(bytes.TrimSpace(printed))
}

// TestCaddyHashPassword checks that what `caddy hash-password` prints is a
// valid account password, for both algorithms.
func TestCaddyHashPassword(t *testing.T) {
	tests := []struct {
		algorithm string
		args      []string
	}{
		{"bcrypt", []string{"--plaintext", "wonderland", "--bcrypt-cost", "4"}},
		{"argon2id", []string{"--plaintext", "wonderland", "--algorithm", "argon2id", "--argon2id-memory", "64"}},
	}
	for _, tt := range tests {
		t.Run(tt.algorithm, func(t *testing.T) {
			hash := hashPassword(t, tt.args...)
			if strings.ContainsAny(hash, " \n") || hash == "" {
				t.Fatalf("unexpected hash-password output %q", hash)
			}
			a := &Accounts{
				HashRaw:     json.RawMessage(`{"algorithm":"` + tt.algorithm + `"}`),
				AccountList: []Account{{Username: "alice", Password: hash}},
			}
			if err := provision(t, a); err != nil {
				t.Fatalf("Provision with hash %q: %v", hash, err)
			}
			for _, c := range []struct {
				password string
				want     bool
			}{{"wonderland", true}, {"Wonderland", false}} {
				got, err := a.Authenticate(context.Background(), "alice", c.password)
				if err != nil || got != c.want {
					t.Errorf("Authenticate(alice, %q) = %v, %v; want %v, nil", c.password, got, err, c.want)
				}
			}
		})
	}
}
