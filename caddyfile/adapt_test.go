// Package caddyfile holds the Caddyfile golden tests of caddy-pop3: every
// directive of the pop3 handler and its guest modules, adapted to JSON.
//
// Each testdata/*.caddytest file is a Caddyfile, a line of ten dashes
// (----------), then either the JSON the Caddyfile adapts to or a line
// "error: <text>". JSON is compared semantically (indentation and key order
// do not matter), and the adapted config must also load with caddy.Validate
// (every module provisioned and validated, nothing listening). With
// "error: <text>", adapting the Caddyfile, or else loading the adapted
// config, must fail with an error that contains <text>. The test runs in
// the caddyfile folder, so relative paths in a Caddyfile (testdata/...)
// start there.
//
// Run `go test ./caddyfile -update` to rewrite the JSON of every passing
// adapt with what the adapter produces now; review the diff before
// committing it. Error cases are never rewritten.
package caddyfile

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	// Every module a test Caddyfile may use: Caddy's standard modules
	// (the caddyfile adapter, TLS, the password hashes), caddy-l4 and
	// caddy-pop3.
	_ "github.com/caddy-pop3/caddy-pop3"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mholt/caddy-l4"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of the golden files")

// separator is the line between a golden file's Caddyfile and its
// expectation.
const separator = "----------"

// errorPrefix starts the expectation of a Caddyfile that must not load.
const errorPrefix = "error: "

// golden is one parsed testdata/*.caddytest file.
type golden struct {
	caddyfile string
	expected  string
}

func parseGolden(t *testing.T, data []byte) golden {
	t.Helper()
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	input, expected, ok := strings.Cut(text, "\n"+separator+"\n")
	if !ok {
		t.Fatalf("no %q line between the Caddyfile and the expectation", separator)
	}
	return golden{caddyfile: strings.TrimSpace(input) + "\n", expected: strings.TrimSpace(expected)}
}

func (g golden) format(expected string) []byte {
	return []byte(g.caddyfile + separator + "\n" + expected + "\n")
}

func TestAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.caddytest"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.caddytest files")
	}
	// Keep whatever Caddy writes while loading out of the user's home.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))

	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		t.Fatal("the caddyfile adapter is not registered")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddytest"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			g := parseGolden(t, data)
			out, warnings, adaptErr := adapter.Adapt([]byte(g.caddyfile), map[string]any{"filename": "Caddyfile"})

			if want, isError := strings.CutPrefix(g.expected, errorPrefix); isError {
				checkError(t, out, adaptErr, want)
				return
			}
			if adaptErr != nil {
				t.Fatalf("adapting: %v", adaptErr)
			}
			for _, w := range warnings {
				t.Errorf("adapter warning: %s", w)
			}
			if err := load(out); err != nil {
				t.Errorf("loading the adapted config: %v", err)
			}
			got := indent(t, out)
			if *update {
				if err := os.WriteFile(file, g.format(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !sameJSON(t, got, g.expected) {
				t.Errorf("adapted JSON differs from %s (run with -update to rewrite it)\n got:\n%s\nwant:\n%s", file, got, g.expected)
			}
		})
	}
}

// checkError checks that adapting failed with want, or that adapting
// worked and loading the adapted config fails with want.
func checkError(t *testing.T, adapted []byte, adaptErr error, want string) {
	t.Helper()
	err := adaptErr
	if err == nil {
		err = load(adapted)
		if err == nil {
			t.Fatalf("adapting and loading worked, want an error containing %q; adapted:\n%s", want, adapted)
		}
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

// load decodes an adapted config and loads it with caddy.Validate:
// provisioned and validated, not started.
func load(adapted []byte) error {
	var cfg caddy.Config
	if err := json.Unmarshal(adapted, &cfg); err != nil {
		return err
	}
	return caddy.Validate(&cfg)
}

// indent returns JSON indented with tabs, as the golden files keep it.
func indent(t *testing.T, data []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "\t"); err != nil {
		t.Fatalf("adapter output is not JSON: %v\n%s", err, data)
	}
	return buf.String()
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("adapted JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected JSON in the golden file: %v", err)
	}
	return reflect.DeepEqual(g, w)
}
