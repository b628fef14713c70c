package lmtp

import (
	"context"
	"errors"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
	"github.com/emersion/go-smtp"
)

func TestRecipientUser(t *testing.T) {
	tests := []struct {
		name     string
		rules    Recipients
		address  string
		wantUser string
		wantCode string // "550 5.1.1" for a refusal, "" when accepted
	}{
		{name: "whole address by default", address: "alice@example.com", wantUser: "alice@example.com"},
		{name: "lower-cased", address: "Alice@Example.COM", wantUser: "alice@example.com"},
		{name: "strip_domain", rules: Recipients{StripDomain: true}, address: "bob@example.com", wantUser: "bob"},
		{name: "no domain", address: "postmaster", wantUser: "postmaster"},
		{name: "domain in list", rules: Recipients{Domains: []string{"example.com"}}, address: "a@EXAMPLE.com", wantUser: "a@example.com"},
		{name: "domain not in list", rules: Recipients{Domains: []string{"example.com"}}, address: "a@example.org", wantCode: "550 5.1.2"},
		{name: "no domain with a list", rules: Recipients{Domains: []string{"example.com"}}, address: "postmaster", wantCode: "550 5.1.2"},
		{name: "IDN domain in list", rules: Recipients{Domains: []string{"bücher.example"}}, address: "a@xn--bcher-kva.example", wantUser: "a@xn--bcher-kva.example"},
		{name: "quoted local part with @", rules: Recipients{StripDomain: true}, address: "\"a@b\"@example.com", wantUser: "\"a@b\""},
		{name: "path separator", address: "../etc@example.com", wantCode: "550 5.1.1"},
		{name: "slash", address: "a/b@example.com", wantCode: "550 5.1.1"},
		{name: "hidden name", rules: Recipients{StripDomain: true}, address: ".x@example.com", wantCode: "550 5.1.1"},
		{name: "empty local part", address: "@example.com", wantCode: "550 5.1.1"},
		{name: "empty domain", address: "a@", wantCode: "550 5.1.1"},
		{name: "UTF-8 local part", address: "jörg@example.com", wantUser: "jörg@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rules
			if err := r.provision(); err != nil {
				t.Fatal(err)
			}
			user, err := r.user(tt.address)
			if got := replyCode(err); got != tt.wantCode {
				t.Fatalf("reply = %q, want %q (err %v)", got, tt.wantCode, err)
			}
			if user != tt.wantUser {
				t.Errorf("user = %q, want %q", user, tt.wantUser)
			}
		})
	}
}

func TestRecipientDomainsValidate(t *testing.T) {
	for _, bad := range []string{"", "a@b", ".example.com", "example.com.", "ex ample.com"} {
		r := Recipients{Domains: []string{bad}}
		if err := r.validate(); err == nil {
			t.Errorf("domains %q: no error", bad)
		}
	}
}

// fakeLookup is a auth.UserLookup over a fixed set.
type fakeLookup struct {
	users map[string]bool
	err   error
}

func (f fakeLookup) UserExists(_ context.Context, user string) (bool, error) {
	return f.users[user], f.err
}

func TestCheckUser(t *testing.T) {
	tests := []struct {
		name   string
		lookup auth.UserLookup
		user   string
		want   string
	}{
		{name: "no authenticator", lookup: nil, user: "anyone", want: ""},
		{name: "known", lookup: fakeLookup{users: map[string]bool{"alice": true}}, user: "alice", want: ""},
		{name: "unknown", lookup: fakeLookup{users: map[string]bool{"alice": true}}, user: "mallory", want: "550 5.1.1"},
		{name: "lookup fails", lookup: fakeLookup{err: errors.New("db down")}, user: "alice", want: "451 4.3.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replyCode(checkUser(context.Background(), tt.lookup, tt.user)); got != tt.want {
				t.Errorf("reply = %q, want %q", got, tt.want)
			}
		})
	}
}

// replyCode is "<code> <enhanced code>" of an *smtp.SMTPError, "" for nil.
func replyCode(err error) string {
	if err == nil {
		return ""
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return "not an SMTPError: " + err.Error()
	}
	return codeString(se)
}
