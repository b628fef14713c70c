// Package examples holds runnable caddy-pop3 configurations, one folder
// each. Its test adapts every Caddyfile (a file named Caddyfile or
// *.caddyfile) and decodes every *.json config under examples/, then loads
// each with caddy.Validate: every module is provisioned and validated as
// `caddy run` would, but nothing listens. Examples are run from the
// repository's top folder (`caddy run --config examples/<name>/Caddyfile`),
// so the configs are loaded from there and relative paths in them start
// there.
package examples

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	// What cmd/caddy builds in: Caddy's standard modules, caddy-l4 and
	// caddy-pop3.
	_ "github.com/caddy-pop3/caddy-pop3"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mholt/caddy-l4"
)

// exampleConfigs returns the config files under the current directory.
func exampleConfigs(t *testing.T) []string {
	t.Helper()
	var configs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if isCaddyfile(path) || filepath.Ext(path) == ".json" {
			configs = append(configs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return configs
}

func isCaddyfile(path string) bool {
	name := filepath.Base(path)
	return name == "Caddyfile" || strings.HasSuffix(name, ".caddyfile")
}

// adapt turns a config file into Caddy JSON. A Caddyfile must adapt without
// warnings: examples are formatted as `caddy fmt` would.
func adapt(t *testing.T, path string, data []byte) []byte {
	t.Helper()
	if !isCaddyfile(path) {
		return data
	}
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(data, map[string]any{"filename": path})
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("adapter warning: %s", w)
	}
	return out
}

func TestExamplesLoad(t *testing.T) {
	configs := exampleConfigs(t)
	if len(configs) == 0 {
		t.Fatal("no example configs under examples/")
	}
	// Keep whatever Caddy writes at load time (it should write nothing)
	// out of the user's home.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	// examples/cluster takes its database from the environment. Nothing
	// listens on port 1: the nodes load and validate without a database
	// (the schema is migrated at the first login).
	t.Setenv("POP3_DSN", "postgres://pop3@127.0.0.1:1/mail?sslmode=disable&connect_timeout=1")

	for _, path := range configs {
		t.Run(filepath.ToSlash(path), func(t *testing.T) {
			t.Chdir("..")
			path := filepath.Join("examples", path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfgJSON := adapt(t, path, data)
			var cfg caddy.Config
			dec := json.NewDecoder(strings.NewReader(string(cfgJSON)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cfg); err != nil {
				t.Fatalf("decoding the config: %v", err)
			}
			if cfg.AppsRaw["layer4"] == nil {
				t.Errorf("the config has no layer4 app, so no POP3 server")
			}
			if err := caddy.Validate(&cfg); err != nil {
				t.Errorf("loading the config: %v", err)
			}
		})
	}
}
