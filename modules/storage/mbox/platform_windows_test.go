package mbox

import (
	"context"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// On Windows, mbox is refused at provision, with the reason.
func TestProvisionRefusedOnWindows(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	m := Mbox{Path: `C:\mail\{pop3.user}`}
	err := m.Provision(ctx)
	if err == nil || !strings.Contains(err.Error(), "not supported on Windows") || !strings.Contains(err.Error(), "maildir") {
		t.Fatalf("Provision: %v, want the Windows refusal", err)
	}
}
