package pop3cmd

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestExamples checks that the configs of examples/postfix and
// examples/fetchmail, which run `caddy pop3 deliver`, give it a storage it
// can deliver with.
func TestExamples(t *testing.T) {
	for example, module := range map[string]string{"postfix": "mbox", "fetchmail": "maildir"} {
		t.Run(example, func(t *testing.T) {
			cfg, err := loadConfig(filepath.Join("..", "..", "examples", example, "Caddyfile"), "")
			if err != nil {
				t.Fatal(err)
			}
			raw, err := findStorage(cfg, "")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			d, err := loadDeliverer(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			if id := string(d.(caddy.Module).CaddyModule().ID); id != "pop3.storage."+module {
				t.Errorf("storage %s, want pop3.storage.%s", id, module)
			}
		})
	}
}
