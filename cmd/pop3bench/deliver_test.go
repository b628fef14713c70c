package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseDeliverBetween checks -deliver-between and -maildir: both or
// neither, and only in poll mode.
func TestParseDeliverBetween(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string // "" for success
	}{
		{[]string{"-mode", "poll"}, ""},
		{[]string{"-mode", "poll", "-deliver-between", "-maildir", "/var/mail/u/Maildir"}, ""},
		{[]string{"-mode", "poll", "-deliver-between"}, "-maildir"},
		{[]string{"-mode", "small", "-deliver-between", "-maildir", "/m"}, "-mode poll"},
		{[]string{"-mode", "poll", "-maildir", "/m"}, "-deliver-between"},
	} {
		cfg, err := parseRunFlags(tc.args)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.err == "" && cfg.deliverBtw != (cfg.maildir != ""):
			t.Errorf("%q: deliver-between %v, maildir %q", tc.args, cfg.deliverBtw, cfg.maildir)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one naming %s", tc.args, err, tc.err)
		}
	}
}

// TestDeliverOne checks that a delivery lands in new/ only (tmp/ left
// empty), under a unique name, with a unique Message-ID, and that a
// missing maildir is an error naming -maildir.
func TestDeliverOne(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]bool{}
	for range 3 {
		name, err := deliverOne(root)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(root, "new", name))
		if err != nil {
			t.Fatal(err)
		}
		id := "Message-ID: <" + name + "@pop3bench>\r\n"
		if !strings.Contains(string(data), id) || ids[id] {
			t.Errorf("delivery %s: content %q, want a new %q", name, data, id)
		}
		ids[id] = true
	}
	for dir, want := range map[string]int{"new": 3, "tmp": 0, "cur": 0} {
		if e, err := os.ReadDir(filepath.Join(root, dir)); err != nil || len(e) != want {
			t.Errorf("%s/ has %d entries (%v), want %d", dir, len(e), err, want)
		}
	}
	if _, err := deliverOne(filepath.Join(root, "missing")); err == nil || !strings.Contains(err.Error(), "-maildir") {
		t.Errorf("delivery to a missing maildir: %v, want an error naming -maildir", err)
	}
}

// TestCheckOneMore checks the listing rule of -deliver-between.
func TestCheckOneMore(t *testing.T) {
	for _, tc := range []struct {
		prev, cur []string
		ok        bool
	}{
		{[]string{"a", "b"}, []string{"a", "b", "c"}, true},
		{nil, []string{"a"}, true},
		{[]string{"a", "b"}, []string{"a", "b"}, false},           // delivery not seen
		{[]string{"a", "b"}, []string{"a", "c", "d"}, false},      // b lost
		{[]string{"a", "b"}, []string{"a", "b", "c", "d"}, false}, // one too many
	} {
		if err := checkOneMore(tc.prev, tc.cur); (err == nil) != tc.ok {
			t.Errorf("checkOneMore(%q, %q) = %v, want ok %v", tc.prev, tc.cur, err, tc.ok)
		}
	}
}
