package caddypop3

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// The module paths whose versions go.mod, xcaddy.json and README.md must
// agree on.
const (
	selfModulePath  = "github.com/caddy-pop3/caddy-pop3"
	caddyModulePath = "github.com/caddyserver/caddy/v2"
	l4ModulePath    = "github.com/mholt/caddy-l4"
)

// testCommand is the test command README.md documents and .ci/run runs.
const testCommand = "go test -race -count=1 ./..."

// goModVersions returns the module path and the required versions that
// go.mod declares, from both the single-line and the block form of require.
func goModVersions(t *testing.T) (module string, versions map[string]string) {
	t.Helper()
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	versions = map[string]string{}
	inRequire := false
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "//")
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case fields[0] == "module" && len(fields) == 2:
			module = fields[1]
		case fields[0] == "require" && len(fields) == 2 && fields[1] == "(":
			inRequire = true
		case fields[0] == ")":
			inRequire = false
		case fields[0] == "require" && len(fields) == 3:
			versions[fields[1]] = fields[2]
		case inRequire && len(fields) == 2:
			versions[fields[0]] = fields[1]
		}
	}
	return module, versions
}

// xcaddyBuild is the part of xcaddy's Builder JSON that xcaddy.json uses.
type xcaddyBuild struct {
	CaddyVersion string `json:"caddy_version"`
	Plugins      []struct {
		ModulePath string `json:"module_path"`
		Version    string `json:"version"`
	} `json:"plugins"`
	Replacements []struct {
		Old string `json:"old"`
		New string `json:"new"`
	} `json:"replacements"`
}

func readXcaddyBuild(t *testing.T) xcaddyBuild {
	t.Helper()
	data, err := os.ReadFile("xcaddy.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var b xcaddyBuild
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("xcaddy.json: %v", err)
	}
	return b
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestBuildVersionsAgree(t *testing.T) {
	module, versions := goModVersions(t)
	if module != selfModulePath {
		t.Fatalf("go.mod module: got %q, want %q", module, selfModulePath)
	}
	caddyVersion, l4Version := versions[caddyModulePath], versions[l4ModulePath]
	if caddyVersion == "" || l4Version == "" {
		t.Fatalf("go.mod does not require %s and %s: %v", caddyModulePath, l4ModulePath, versions)
	}

	b := readXcaddyBuild(t)
	if b.CaddyVersion != caddyVersion {
		t.Errorf("xcaddy.json caddy_version %q, go.mod has %s %s", b.CaddyVersion, caddyModulePath, caddyVersion)
	}
	plugins := map[string]string{}
	for _, p := range b.Plugins {
		plugins[p.ModulePath] = p.Version
	}
	if v, ok := plugins[l4ModulePath]; !ok || v != l4Version {
		t.Errorf("xcaddy.json plugin %s at %q, go.mod has %s", l4ModulePath, v, l4Version)
	}
	if v, ok := plugins[selfModulePath]; !ok || v != "" {
		t.Errorf("xcaddy.json must build plugin %s from this checkout (no version), got present=%v version=%q", selfModulePath, ok, v)
	}
	if len(plugins) != 2 || len(b.Plugins) != 2 {
		t.Errorf("xcaddy.json plugins: got %v, want exactly %s and %s", plugins, l4ModulePath, selfModulePath)
	}
	if len(b.Replacements) != 1 || b.Replacements[0].Old != selfModulePath || b.Replacements[0].New != "." {
		t.Errorf("xcaddy.json replacements: got %+v, want %s => .", b.Replacements, selfModulePath)
	}

	buildLine := fmt.Sprintf("xcaddy build %s --with %s@%s --with %s=.", caddyVersion, l4ModulePath, l4Version, selfModulePath)
	if !strings.Contains(readFile(t, "README.md"), buildLine) {
		t.Errorf("README.md does not contain the build command of go.mod's versions:\n%s", buildLine)
	}
}

func TestTestCommandAgrees(t *testing.T) {
	if !strings.Contains(readFile(t, "README.md"), testCommand) {
		t.Errorf("README.md does not document the test command %q", testCommand)
	}
	if !strings.Contains(readFile(t, ".ci/run"), testCommand) {
		t.Errorf(".ci/run does not run the test command %q", testCommand)
	}
}
