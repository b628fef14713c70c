package pop3cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage/maildir"
)

// writeSourceMaildir makes a Dovecot-style maildir with one message in
// new/ and two in cur/, and returns its path.
func writeSourceMaildir(t *testing.T, root string) map[string]string {
	t.Helper()
	msgs := map[string]string{
		"1600000001.M1P9.old":      "Message-ID: <1@old>\nSubject: one\n\nfirst\n",
		"1600000002.M1P9.old":      "Message-ID: <2@old>\nSubject: two\n\nsecond\n",
		"1600000003.M1P9.old,S=44": "Message-ID: <3@old>\nSubject: three\n\nthird\n",
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	want := make(map[string]string)
	i := 0
	for name, body := range msgs {
		dir, file := "cur", name+":2,S"
		if i == 0 {
			dir, file = "new", name
		}
		i++
		p := filepath.Join(root, dir, file)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := time.Date(2020, 1, i, 0, 0, 0, 0, time.UTC)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		base, _, _ := strings.Cut(name, ",")
		want[base] = body
	}
	return want
}

func TestMigrateMaildirTwice(t *testing.T) {
	dir := t.TempDir()
	config := writeCaddyfile(t, dir, "maildir")
	src := filepath.Join(dir, "old", "example.com", "alice", "Maildir")
	want := writeSourceMaildir(t, src)
	before := snapshotTree(t, src)
	opts := migrateOptions{Config: config, User: "alice@example.com", From: "maildir:" + filepath.Join(dir, "old", "%d", "%n", "Maildir")}

	for run, wantCopied := range []string{"3 copied", "0 copied (0 bytes), 3 already there"} {
		var out, errOut bytes.Buffer
		code, err := migrate(context.Background(), opts, &out, &errOut)
		if code != ExitOK || err != nil {
			t.Fatalf("run %d: exit %d, %v; stderr %s", run, code, err, errOut.String())
		}
		if !strings.Contains(out.String(), wantCopied) {
			t.Errorf("run %d reported %q, want %q", run, out.String(), wantCopied)
		}
	}
	if after := snapshotTree(t, src); after != before {
		t.Errorf("the source changed:\nbefore %s\nafter  %s", before, after)
	}
	s, err := maildir.OpenSource(context.Background(), filepath.Join(dir, "alice@example.com", "Maildir"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(map[string]string)
	for i, m := range s.Messages() {
		data, received, err := readSource(context.Background(), s, i)
		if err != nil {
			t.Fatal(err)
		}
		got[m.UID] = string(data)
		if received.Year() != 2020 {
			t.Errorf("message %s received %v, want the source's 2020 time", m.UID, received)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("target has %d messages, want %d", len(got), len(want))
	}
	for uid, body := range want {
		if got[uid] != body {
			t.Errorf("UIDL %s: %q, want %q", uid, got[uid], body)
		}
	}
}

// TestMigrateUIDLConflict checks that a source message whose UIDL the
// target has for a different message is not copied, that the target's
// message is left as it was, and that the run exits 65.
func TestMigrateUIDLConflict(t *testing.T) {
	dir := t.TempDir()
	config := writeCaddyfile(t, dir, "maildir")
	src := filepath.Join(dir, "old")
	writeSourceMaildir(t, src)
	target := filepath.Join(dir, "alice", "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(target, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mine := "Message-ID: <other@new>\nSubject: a different message, the same base name\n\nkeep me\n"
	minePath := filepath.Join(target, "cur", "1600000002.M1P9.old:2,S")
	if err := os.WriteFile(minePath, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code, _ := migrate(context.Background(), migrateOptions{Config: config, User: "alice", From: "maildir:" + src}, &out, &errOut)
	if code != ExitDataErr {
		t.Errorf("exit %d, want %d; stdout %s stderr %s", code, ExitDataErr, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "2 copied") || !strings.Contains(out.String(), "1 UIDL conflicts") {
		t.Errorf("report %q, want 2 copied and 1 conflict", out.String())
	}
	s, err := maildir.OpenSource(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	found := 0
	for i, m := range s.Messages() {
		if m.UID != "1600000002.M1P9.old" {
			continue
		}
		found++
		data, _, err := readSource(context.Background(), s, i)
		if err != nil || string(data) != mine {
			t.Errorf("the target's own message is %q (%v), want it unchanged", data, err)
		}
	}
	if found != 1 || len(s.Messages()) != 3 {
		t.Errorf("target has %d messages, %d with the contested UIDL; want 3 and 1", len(s.Messages()), found)
	}
}

func TestMigrateUsersFrom(t *testing.T) {
	dir := t.TempDir()
	config := writeCaddyfile(t, dir, "maildir")
	writeSourceMaildir(t, filepath.Join(dir, "old", "alice", "Maildir"))
	users := filepath.Join(dir, "users")
	text := "# Dovecot users\nalice:{PLAIN}x:1000:1000::/home/alice::\nnobody:{PLAIN}y::::::\n"
	if err := os.WriteFile(users, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code, err := migrate(context.Background(), migrateOptions{Config: config, UsersFrom: users, From: "maildir:" + filepath.Join(dir, "old", "%u", "Maildir")}, &out, &errOut)
	if code != ExitOK {
		t.Fatalf("exit %d, %v", code, err)
	}
	for _, w := range []string{"alice: 3 copied", "nobody: no maildir", "total (2 users, 0 failed): 3 copied"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report %q lacks %q", out.String(), w)
		}
	}
}

func TestMigrateExitCodes(t *testing.T) {
	dir := t.TempDir()
	config := writeCaddyfile(t, dir, "maildir")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"apps":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "maildir:" + filepath.Join(dir, "nowhere")
	tests := []struct {
		name string
		opts migrateOptions
		want int
	}{
		{"no config", migrateOptions{User: "a", From: src}, ExitUsage},
		{"no from", migrateOptions{Config: config, User: "a"}, ExitUsage},
		{"no user", migrateOptions{Config: config, From: src}, ExitUsage},
		{"both user and users-from", migrateOptions{Config: config, User: "a", UsersFrom: "x", From: src}, ExitUsage},
		{"bad from", migrateOptions{Config: config, User: "a", From: "imap:/x"}, ExitUsage},
		{"missing users-from", migrateOptions{Config: config, UsersFrom: filepath.Join(dir, "none"), From: src}, ExitNoInput},
		{"missing source", migrateOptions{Config: config, User: "alice", From: src}, ExitNoInput},
		{"config without pop3", migrateOptions{Config: bad, User: "alice", From: src}, ExitConfigError},
		{"missing config", migrateOptions{Config: filepath.Join(dir, "none"), User: "alice", From: src}, ExitConfigError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code, err := migrate(context.Background(), tt.opts, &out, &out)
			if code != tt.want || err == nil {
				t.Errorf("exit %d (%v), want %d and an error", code, err, tt.want)
			}
		})
	}
}

func TestExpandUserPath(t *testing.T) {
	for _, tt := range []struct{ in, user, want string }{
		{"/var/mail/%d/%n/Maildir", "alice@example.com", "/var/mail/example.com/alice/Maildir"},
		{"/var/mail/%u", "bob", "/var/mail/bob"},
		{"/x/100%%/%z", "bob", "/x/100%/%z"},
	} {
		if got := expandUserPath(tt.in, tt.user); got != tt.want {
			t.Errorf("expandUserPath(%q, %q) = %q, want %q", tt.in, tt.user, got, tt.want)
		}
	}
}

// snapshotTree describes every file under root: path, size, mtime.
func snapshotTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s\n", p, fi.Size(), fi.ModTime())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
