package pop3cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/caddy-pop3/caddy-pop3/internal/caddystore"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// loadConfig reads the config file at path and returns it as Caddy JSON,
// adapted with the named adapter. Without one, a file named like a
// Caddyfile (Caddyfile*, *.caddyfile) is adapted with the caddyfile
// adapter, as `caddy run` does, and anything else is read as JSON.
func loadConfig(path, adapter string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	if adapter == "" && isCaddyfileName(path) {
		adapter = "caddyfile"
	}
	if adapter == "" {
		if !json.Valid(data) {
			return nil, fmt.Errorf("config %s is not valid JSON (use --adapter for another format)", path)
		}
		return data, nil
	}
	a := caddyconfig.GetAdapter(adapter)
	if a == nil {
		return nil, fmt.Errorf("unknown config adapter %q", adapter)
	}
	out, _, err := a.Adapt(data, map[string]any{"filename": path})
	if err != nil {
		return nil, fmt.Errorf("adapting the config with %s: %w", adapter, err)
	}
	return out, nil
}

// isCaddyfileName reports whether a config file's name says it is a
// Caddyfile, by Caddy's own rule.
func isCaddyfileName(path string) bool {
	base := strings.ToLower(filepath.Base(path))
	if filepath.Ext(base) == ".json" {
		return false
	}
	return strings.HasPrefix(base, "caddyfile") || strings.HasSuffix(base, ".caddyfile")
}

// handlerStorage is the storage of one pop3 handler found in a config.
type handlerStorage struct {
	server string
	raw    json.RawMessage
}

// findStorage returns the storage config of the pop3 handler(s) in the
// layer4 server named server, or in all layer4 servers when server is
// empty. Handlers are looked for anywhere in a server's routes, including
// inside subroute handlers. Several handlers are fine as long as they all
// use the same storage.
func findStorage(cfg []byte, server string) (json.RawMessage, error) {
	var root struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &root); err != nil {
		return nil, fmt.Errorf("decoding the config: %w", err)
	}
	var l4 struct {
		Servers map[string]json.RawMessage `json:"servers"`
	}
	if raw := root.Apps["layer4"]; raw != nil {
		if err := json.Unmarshal(raw, &l4); err != nil {
			return nil, fmt.Errorf("decoding the layer4 app: %w", err)
		}
	}
	names := make([]string, 0, len(l4.Servers))
	for name := range l4.Servers {
		names = append(names, name)
	}
	slices.Sort(names)

	var found []handlerStorage
	var withPOP3 []string
	for _, name := range names {
		var tree any
		if err := json.Unmarshal(l4.Servers[name], &tree); err != nil {
			return nil, fmt.Errorf("decoding layer4 server %s: %w", name, err)
		}
		hs := pop3Handlers(name, tree)
		if len(hs) > 0 {
			withPOP3 = append(withPOP3, name)
		}
		if server == "" || name == server {
			found = append(found, hs...)
		}
	}
	switch {
	case len(withPOP3) == 0:
		return nil, fmt.Errorf("the config has no pop3 handler (in apps.layer4.servers.*.routes)")
	case server != "" && l4.Servers[server] == nil:
		return nil, fmt.Errorf("the config has no layer4 server %q; servers with a pop3 handler: %s", server, strings.Join(withPOP3, ", "))
	case len(found) == 0:
		return nil, fmt.Errorf("layer4 server %q has no pop3 handler; servers with one: %s", server, strings.Join(withPOP3, ", "))
	}
	for _, h := range found[1:] {
		if !sameJSON(h.raw, found[0].raw) {
			if server == "" && len(withPOP3) > 1 {
				return nil, fmt.Errorf("the pop3 handlers of the servers %s use different storage: choose one with --server", strings.Join(withPOP3, ", "))
			}
			return nil, fmt.Errorf("the pop3 handlers of layer4 server %q use different storage", found[0].server)
		}
	}
	return found[0].raw, nil
}

// pop3Handlers walks a decoded server config and returns the storage of
// every pop3 handler in it.
func pop3Handlers(server string, tree any) []handlerStorage {
	var out []handlerStorage
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "pop3" {
				raw := caddystore.DefaultStorage()
				if s, ok := v["storage"]; ok && s != nil {
					raw, _ = json.Marshal(s)
				}
				out = append(out, handlerStorage{server: server, raw: raw})
				return
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(tree)
	return out
}

// sameJSON reports whether two JSON documents have the same value.
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
