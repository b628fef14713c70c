package pop3cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage/maildir"
)

// TestMigrateUIDLFormat checks that --uidl-format reads the source's
// dovecot-uidlist with the old server's pop3_uidl_format: the target
// keeps exactly the UIDLs that format gives, each with its own message.
func TestMigrateUIDLFormat(t *testing.T) {
	dir := t.TempDir()
	config := writeCaddyfile(t, dir, "maildir")
	src := filepath.Join(dir, "old")
	bodies := writeSourceMaildir(t, src)
	uidlist := "3 V7 N4\n1 :1600000001.M1P9.old\n2 :1600000002.M1P9.old\n3 :1600000003.M1P9.old,S=44\n"
	if err := os.WriteFile(filepath.Join(src, maildir.DovecotUIDListName), []byte(uidlist), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"7.1": bodies["1600000001.M1P9.old"],
		"7.2": bodies["1600000002.M1P9.old"],
		"7.3": bodies["1600000003.M1P9.old"],
	}
	before := snapshotTree(t, src)
	var out, errOut bytes.Buffer
	opts := migrateOptions{Config: config, User: "alice", From: "maildir:" + src, UIDLFormat: "%v.%u"}
	if code, err := migrate(context.Background(), opts, &out, &errOut); code != ExitOK || err != nil {
		t.Fatalf("exit %d, %v; stderr %s", code, err, errOut.String())
	}
	if after := snapshotTree(t, src); after != before {
		t.Errorf("the source changed:\nbefore %s\nafter  %s", before, after)
	}
	s, err := maildir.OpenSource(context.Background(), filepath.Join(dir, "alice", "Maildir"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(map[string]string)
	for i, m := range s.Messages() {
		data, _, err := readSource(context.Background(), s, i)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := got[m.UID]; dup {
			t.Errorf("UIDL %s twice in the target", m.UID)
		}
		got[m.UID] = string(data)
	}
	if len(got) != len(want) {
		t.Errorf("target has UIDLs %v, want exactly %v", keys(got), keys(want))
	}
	for uid, body := range want {
		if got[uid] != body {
			t.Errorf("UIDL %s: %q, want %q", uid, got[uid], body)
		}
	}
}

// TestMigrateBadUIDLFormat checks that a format the source kind cannot
// use is a usage error naming --uidl-format.
func TestMigrateBadUIDLFormat(t *testing.T) {
	dir := t.TempDir()
	config := writeCaddyfile(t, dir, "maildir")
	for _, tc := range []struct{ from, format string }{
		{"maildir:" + dir, "%q"},
		{"maildir:" + dir, "%08Xu%"},
		{"mbox:" + filepath.Join(dir, "spool"), "%f"}, // %f is maildir only
	} {
		var out, errOut bytes.Buffer
		code, err := migrate(context.Background(), migrateOptions{Config: config, User: "alice", From: tc.from, UIDLFormat: tc.format}, &out, &errOut)
		if code != ExitUsage || err == nil || !strings.Contains(err.Error(), "--uidl-format") {
			t.Errorf("%s %q: exit %d, %v; want %d naming --uidl-format", tc.from, tc.format, code, err, ExitUsage)
		}
	}
}

func keys(m map[string]string) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}
