package caddypop3

import (
	"os/exec"
	"strings"
	"testing"
)

// TestArchitecture keeps the layering of the tree (CONTRIBUTING.md): the
// protocol engine knows nothing of Caddy, the handler and the commands
// know no storage backend, and the storage interfaces need no Caddy.
func TestArchitecture(t *testing.T) {
	const mod = "github.com/caddy-pop3/caddy-pop3/"
	backends := []string{mod + "modules/storage/maildir", mod + "modules/storage/mbox", mod + "modules/storage/postgres", mod + "modules/storage/memstore"}
	caddy := []string{"github.com/caddyserver/", "github.com/mholt/caddy-l4", "github.com/prometheus/"}
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"./internal/pop3server", append(append([]string{}, caddy...), backends...)},
		{"./internal/guard", caddy},
		{"./internal/netconn", caddy},
		{"./internal/sessions", caddy},
		{"./modules/storage", append(append([]string{}, caddy...), mod+"modules/storage/maildir/internal/ownerlock")},
		{"./modules/auth", caddy},
		{"./modules/pop3", backends},
		{"./modules/pop3cmd", backends},
		{"./modules/lmtp", backends},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tt.pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 2 {
				t.Fatalf("go list -deps %s listed %d packages", tt.pkg, len(deps))
			}
			for _, d := range deps {
				for _, f := range tt.forbidden {
					if d == f || strings.HasPrefix(d, f) && (strings.HasSuffix(f, "/") || strings.HasPrefix(d[len(f):], "/")) {
						t.Errorf("%s depends on %s", tt.pkg, d)
					}
				}
			}
		})
	}
}
