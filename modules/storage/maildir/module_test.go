package maildir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func TestModuleRegistered(t *testing.T) {
	info, err := caddy.GetModule("pop3.storage.maildir")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := info.New().(*Maildir); !ok {
		t.Errorf("New returns %T", info.New())
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		path    string
		wantErr string // substring of the error, "" for none
	}{
		{"bare", `maildir`, "", ""},
		{"inline path", `maildir /var/mail/{pop3.user}/Maildir`, "/var/mail/{pop3.user}/Maildir", ""},
		{"block path", "maildir {\n\tpath /var/mail/{pop3.user.domain}/{pop3.user.local}/Maildir\n}",
			"/var/mail/{pop3.user.domain}/{pop3.user.local}/Maildir", ""},
		{"empty block", "maildir {\n}", "", ""},
		{"two inline args", `maildir /a /b`, "", `unexpected argument "/b"`},
		{"path without value", "maildir {\n\tpath\n}", "", "path: missing value"},
		{"path with two values", "maildir {\n\tpath /a /b\n}", "", `path: unexpected argument "/b"`},
		{"path twice", "maildir {\n\tpath /a\n\tpath /b\n}", "", "path: already set"},
		{"inline and block", "maildir /a {\n\tpath /b\n}", "", "path: already set"},
		{"path with block", "maildir {\n\tpath /a {\n\t\tx\n\t}\n}", "", "path: takes no block"},
		{"unknown", "maildir {\n\tfolder /a\n}", "", `unrecognized subdirective "folder"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Maildir
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
			if m.Path != tt.path {
				t.Errorf("Path %q, want %q", m.Path, tt.path)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	in := `{"path":"/var/mail/{pop3.user.domain}/{pop3.user.local}/Maildir"}`
	var m Maildir
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	if m.Path != "/var/mail/{pop3.user.domain}/{pop3.user.local}/Maildir" {
		t.Errorf("Path %q", m.Path)
	}
	out, err := json.Marshal(Maildir{})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "{}" {
		t.Errorf("empty module marshals to %s, want {}", out)
	}
}

func TestProvision(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	tests := []struct {
		name     string
		path     string
		wantPath string
		wantErr  string
	}{
		{"default", "", filepath.Join(caddy.AppDataDir(), "pop3", "mail", "{pop3.user}", "Maildir"), ""},
		{"template", "/var/mail/{pop3.user.domain}/{pop3.user.local}/Maildir", "/var/mail/{pop3.user.domain}/{pop3.user.local}/Maildir", ""},
		{"env placeholder", "{env.HOME}/Maildir/{pop3.user}", "{env.HOME}/Maildir/{pop3.user}", ""},
		{"unknown placeholder", "/var/mail/{pop3.username}/Maildir", "", "path"},
		{"blank", "   ", "", "path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			m := Maildir{Path: tt.path}
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
			if m.Path != tt.wantPath {
				t.Errorf("Path %q, want %q", m.Path, tt.wantPath)
			}
		})
	}
}

func TestPathTemplate(t *testing.T) {
	dir := t.TempDir()
	m := &Maildir{Path: filepath.Join(dir, "{pop3.user.domain}", "{pop3.user.local}", "Maildir")}
	ctx := context.Background()
	if err := m.Deliver(ctx, "alice@example.com", storage.Envelope{}, bytes.NewReader([]byte("m\n"))); err != nil {
		t.Fatal(err)
	}
	got := names(t, filepath.Join(dir, "example.com", "alice", "Maildir", dirNew))
	if len(got) != 1 {
		t.Fatalf("alice's new/ has %q", got)
	}
	md, err := m.Open(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
	md.Close()

	for _, user := range []string{"alice", "..", "../x@example.com", "a/b@example.com", "alice@../etc", "alice@", "@example.com", "a\x00@example.com"} {
		if _, err := m.Open(ctx, user); !errors.Is(err, storage.ErrInvalidUser) {
			t.Errorf("Open(%q): %v, want ErrInvalidUser", user, err)
		}
		if err := m.Deliver(ctx, user, storage.Envelope{}, bytes.NewReader([]byte("m\n"))); !errors.Is(err, storage.ErrInvalidUser) {
			t.Errorf("Deliver(%q): %v, want ErrInvalidUser", user, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "example.com" {
		t.Errorf("refused users created something: %v", entries)
	}
}

func TestUnprovisionedUsesDefaultPath(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	var m Maildir
	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	md.Close()
	if _, err := os.Stat(filepath.Join(caddy.AppDataDir(), "pop3", "mail", "alice", "Maildir", dirCur)); err != nil {
		t.Errorf("maildir not at the default path: %v", err)
	}
}
