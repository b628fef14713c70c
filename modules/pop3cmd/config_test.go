package pop3cmd

import (
	"strings"
	"testing"
)

func TestFindStorage(t *testing.T) {
	const maildirA = `{"module":"maildir","path":"/a/{pop3.user}"}`
	const mboxB = `{"module":"mbox","path":"/b/{pop3.user}"}`
	server := func(handlers ...string) string {
		return `{"listen":[":110"],"routes":[{"handle":[` + strings.Join(handlers, ",") + `]}]}`
	}
	pop3 := func(storage string) string {
		if storage == "" {
			return `{"handler":"pop3","auth":{"module":"accounts"}}`
		}
		return `{"handler":"pop3","storage":` + storage + `}`
	}
	config := func(servers ...string) string {
		var parts []string
		for i, s := range servers {
			parts = append(parts, `"srv`+string(rune('0'+i))+`":`+s)
		}
		return `{"apps":{"layer4":{"servers":{` + strings.Join(parts, ",") + `}}}}`
	}
	subroute := func(inner string) string {
		return `{"handler":"subroute","routes":[{"match":[{"tls":{}}],"handle":[{"handler":"tls"},` + inner + `]}]}`
	}
	tests := []struct {
		name    string
		config  string
		server  string
		want    string
		wantErr string
	}{
		{"one handler", config(server(pop3(maildirA))), "", maildirA, ""},
		{"default storage", config(server(pop3(""))), "", `{"module":"maildir"}`, ""},
		{"inside a subroute", config(server(subroute(pop3(mboxB)))), "", mboxB, ""},
		{"two servers, same storage", config(server(pop3(maildirA)), server(pop3(maildirA))), "", maildirA, ""},
		{"two servers, chosen", config(server(pop3(maildirA)), server(pop3(mboxB))), "srv1", mboxB, ""},
		{"two servers, ambiguous", config(server(pop3(maildirA)), server(pop3(mboxB))), "", "", "choose one with --server"},
		{"server without pop3", config(server(`{"handler":"echo"}`), server(pop3(mboxB))), "srv0", "", `"srv0" has no pop3 handler; servers with one: srv1`},
		{"unknown server", config(server(pop3(mboxB))), "mail", "", `no layer4 server "mail"`},
		{"one server, two storages", config(server(pop3(maildirA), pop3(mboxB))), "", "", "use different storage"},
		{"no layer4 app", `{"apps":{"http":{}}}`, "", "", "no pop3 handler"},
		{"no apps", `{}`, "", "", "no pop3 handler"},
		{"only other handlers", config(server(`{"handler":"proxy"}`)), "", "", "no pop3 handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findStorage([]byte(tt.config), tt.server)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(got, []byte(tt.want)) {
				t.Errorf("storage %s, want %s", got, tt.want)
			}
		})
	}
}

func TestIsCaddyfileName(t *testing.T) {
	for name, want := range map[string]bool{
		"/etc/caddy/Caddyfile": true, "Caddyfile.prod": true, "mail.caddyfile": true, "caddyfile": true,
		"caddy.json": false, "Caddyfile.json": false, "config": false, "/etc/Caddyfile.d/x.conf": false,
	} {
		if got := isCaddyfileName(name); got != want {
			t.Errorf("isCaddyfileName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSplitEnvelope(t *testing.T) {
	tests := []struct{ in, sender, rest, returnPath string }{
		{"Subject: x\n\nbody\n", "", "Subject: x\n\nbody\n", ""},
		{"From alice@example.net  Mon Jan  1 00:00:00 2024\nSubject: x\n\n", "alice@example.net", "Subject: x\n\n", ""},
		{"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n", "MAILER-DAEMON", "", ""},
		{"From \n", "", "", ""},
		{"From: alice@example.net\n\n", "", "From: alice@example.net\n\n", ""},
		{"Return-Path: <bob@example.net>\r\nSubject: x\r\n\r\n", "", "Return-Path: <bob@example.net>\r\nSubject: x\r\n\r\n", "bob@example.net"},
		{"Subject: x\n\nReturn-Path: <not@header>\n", "", "Subject: x\n\nReturn-Path: <not@header>\n", ""},
	}
	for _, tt := range tests {
		sender, rest := splitEnvelope([]byte(tt.in))
		if sender != tt.sender || string(rest) != tt.rest {
			t.Errorf("splitEnvelope(%q) = %q, %q; want %q, %q", tt.in, sender, rest, tt.sender, tt.rest)
		}
		if rp := returnPath(rest); rp != tt.returnPath {
			t.Errorf("returnPath(%q) = %q, want %q", rest, rp, tt.returnPath)
		}
	}
}
