package passwdfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func TestPathTemplate(t *testing.T) {
	tests := []struct {
		path, user string
		want       string // the file, or "error: <part of the error>"
	}{
		{"/etc/mail/%d/passwd", "alice@example.com", "/etc/mail/example.com/passwd"},
		{"/etc/mail/%{domain}/passwd", "alice@example.com", "/etc/mail/example.com/passwd"},
		{"/etc/mail/%d/%n.passwd", "alice@example.com", "/etc/mail/example.com/alice.passwd"},
		{"/etc/mail/%{username}/%{user}", "alice@example.com", "/etc/mail/alice/alice@example.com"},
		{"/etc/mail/%u", "alice", "/etc/mail/alice"},
		{"/etc/mail/%n", "alice", "/etc/mail/alice"},
		{"/etc/100%%/%d", "a@b.org", "/etc/100%/b.org"},
		{"/etc/mail/%d/passwd", "alice", "error: " + errNoDomain.Error()},
		{"/etc/mail/%d/passwd", "alice@../etc", "error: " + storage.ErrInvalidUser.Error()},
		{"/etc/mail/%d/passwd", "alice@a/b", "error: " + storage.ErrInvalidUser.Error()},
		{"/etc/mail/%d/passwd", `alice@a\b`, "error: " + storage.ErrInvalidUser.Error()},
		{"/etc/mail/%d/passwd", "alice@.hidden", "error: " + storage.ErrInvalidUser.Error()},
		{"/etc/mail/%d/passwd", "alice@a\nb", "error: " + storage.ErrInvalidUser.Error()},
		{"/etc/mail/%d/passwd", "alice@c:d", "error: " + storage.ErrInvalidUser.Error()},
		{"/etc/mail/%d/passwd", "alice@", "error: " + storage.ErrInvalidUser.Error()},
		{"/etc/mail/%n/passwd", "..@x", "error: " + storage.ErrInvalidUser.Error()},
		{"/etc/mail/%n/passwd", "", "error: " + storage.ErrInvalidUser.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.user, func(t *testing.T) {
			tmpl, err := parseTemplate(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if !tmpl.vars {
				t.Fatalf("%q has no variable", tt.path)
			}
			got, err := tmpl.expand(tt.user)
			if err != nil {
				got = "error: " + err.Error()
			}
			if got != tt.want {
				t.Fatalf("expand(%q) = %q, want %q", tt.user, got, tt.want)
			}
		})
	}
}

func TestPathTemplateStatic(t *testing.T) {
	tmpl, err := parseTemplate("/etc/100%%/users")
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.vars || tmpl.static() != "/etc/100%/users" {
		t.Fatalf("vars %v, static %q", tmpl.vars, tmpl.static())
	}
}

func TestPathTemplateErrors(t *testing.T) {
	for path, want := range map[string]string{
		"/etc/%x/passwd":       "unknown variable %x",
		"/etc/%Ld/passwd":      "unknown variable %L",
		"/etc/%{host}/passwd":  "unknown variable %{host}",
		"/etc/%{domain/passwd": "without a closing }",
		"/etc/passwd%":         "a lone %",
	} {
		_, err := parseTemplate(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseTemplate(%q) = %v, want an error containing %q", path, err, want)
		}
		if errors.Is(err, errNoDomain) {
			t.Errorf("parseTemplate(%q): wrong error kind", path)
		}
	}
}
