//go:build unix

package mbox

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestModuleRegistered(t *testing.T) {
	info, err := caddy.GetModule("pop3.storage.mbox")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := info.New().(*Mbox); !ok {
		t.Errorf("New returns %T", info.New())
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		path    string
		timeout time.Duration
		wantErr string
	}{
		{"bare", `mbox`, "", 0, ""},
		{"inline path", `mbox /var/mail/{pop3.user}`, "/var/mail/{pop3.user}", 0, ""},
		{"block path", "mbox {\n\tpath /var/spool/mail/{pop3.user.local}\n}", "/var/spool/mail/{pop3.user.local}", 0, ""},
		{"lock timeout", "mbox /m/{pop3.user} {\n\tlock_timeout 1m\n}", "/m/{pop3.user}", time.Minute, ""},
		{"empty block", "mbox {\n}", "", 0, ""},
		{"two inline args", `mbox /a /b`, "", 0, `unexpected argument "/b"`},
		{"path without value", "mbox {\n\tpath\n}", "", 0, "path: missing value"},
		{"path with two values", "mbox {\n\tpath /a /b\n}", "", 0, `path: unexpected argument "/b"`},
		{"path twice", "mbox {\n\tpath /a\n\tpath /b\n}", "", 0, "path: already set"},
		{"inline and block", "mbox /a {\n\tpath /b\n}", "", 0, "path: already set"},
		{"path with block", "mbox {\n\tpath /a {\n\t\tx\n\t}\n}", "", 0, "path: takes no block"},
		{"bad timeout", "mbox {\n\tlock_timeout soon\n}", "", 0, "lock_timeout:"},
		{"zero timeout", "mbox {\n\tlock_timeout 0s\n}", "", 0, "not a positive duration"},
		{"timeout without value", "mbox {\n\tlock_timeout\n}", "", 0, "lock_timeout: missing value"},
		{"timeout twice", "mbox {\n\tlock_timeout 1s\n\tlock_timeout 2s\n}", "", 0, "lock_timeout: already set"},
		{"unknown", "mbox {\n\tfolder /a\n}", "", 0, `unrecognized subdirective "folder"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Mbox
			err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Path != tt.path || time.Duration(m.LockTimeout) != tt.timeout {
				t.Errorf("Path %q, LockTimeout %v; want %q, %v", m.Path, time.Duration(m.LockTimeout), tt.path, tt.timeout)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	var m Mbox
	if err := json.Unmarshal([]byte(`{"path":"/var/mail/{pop3.user}","lock_timeout":"45s"}`), &m); err != nil {
		t.Fatal(err)
	}
	if m.Path != "/var/mail/{pop3.user}" || time.Duration(m.LockTimeout) != 45*time.Second {
		t.Errorf("decoded %+v", m)
	}
	out, err := json.Marshal(Mbox{})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "{}" {
		t.Errorf("empty module marshals to %s, want {}", out)
	}
}

func TestProvision(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		wantPath string
		wantErr  string
	}{
		{"default", "", "/var/mail/{pop3.user}", ""},
		{"template", "/var/mail/{pop3.user.domain}/{pop3.user.local}", "/var/mail/{pop3.user.domain}/{pop3.user.local}", ""},
		{"env placeholder", "{env.HOME}/mbox/{pop3.user}", "{env.HOME}/mbox/{pop3.user}", ""},
		{"unknown placeholder", "/var/mail/{pop3.username}", "", "path"},
		{"directory", "/var/mail/{pop3.user}/", "", "names a directory"},
		{"blank", "  ", "", "path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			m := Mbox{Path: tt.path}
			err := m.Provision(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Path != tt.wantPath || time.Duration(m.LockTimeout) != DefaultLockTimeout {
				t.Errorf("Path %q, LockTimeout %v", m.Path, time.Duration(m.LockTimeout))
			}
		})
	}
}
