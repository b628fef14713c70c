package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestParseUIDList(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		validity uint32
		want     map[string]uidRecord // by base
		err      bool
	}{
		{"v1", "1 1275660208 4\n1 1700000000.M1P1.host:2,S\n3 1700000002.M3P1.host\n", 1275660208, map[string]uidRecord{
			"1700000000.M1P1.host": {uid: 1, fname: "1700000000.M1P1.host:2,S"},
			"1700000002.M3P1.host": {uid: 3, fname: "1700000002.M3P1.host"},
		}, false},
		{"v2", "2 99 3\n1 0 a.host:2,\n", 99, map[string]uidRecord{"a.host": {uid: 1, fname: "a.host:2,"}}, false},
		{"v3 with extension fields", "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n" +
			"25020 :1700000000.M1P1.host,S=120\n" +
			"25021 W123 S120 G0123456789abcdef0123456789abcdef :1700000001.M2P1.host,S=120:2,RS\n" +
			"25021 P :x.host\n" + // an empty field value
			"25019 Psaved-uidl-1 O3 :old.host\n", 1275660208, map[string]uidRecord{
			"1700000000.M1P1.host": {uid: 25020, fname: "1700000000.M1P1.host,S=120"},
			"1700000001.M2P1.host": {uid: 25021, fname: "1700000001.M2P1.host,S=120:2,RS", guid: "0123456789abcdef0123456789abcdef"},
			"x.host":               {uid: 25021, fname: "x.host"},
			"old.host":             {uid: 25019, fname: "old.host", pop3: "saved-uidl-1"},
		}, false},
		{"v3 CRLF and junk lines skipped", "3 V7 N3\r\n1 :a.host\r\nnot a line\r\n0 :zero.host\r\n2 no-colon\r\n2 :../evil/x\r\n", 7, map[string]uidRecord{
			"a.host": {uid: 1, fname: "a.host"},
		}, false},
		{"the newest record of a base wins", "3 V7 N9\n5 :a.host:2,S\n3 :a.host\n", 7, map[string]uidRecord{
			"a.host": {uid: 5, fname: "a.host:2,S"},
		}, false},
		{"empty", "", 0, nil, true},
		{"unknown version", "4 V1 N1\n", 0, nil, true},
		{"v3 without UIDVALIDITY", "3 N5\n1 :a\n", 0, nil, true},
		{"v1 bad UIDVALIDITY", "1 x 5\n", 0, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := parseUIDList(strings.NewReader(tc.in))
			if tc.err {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", l)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.validity != tc.validity {
				t.Errorf("validity %d, want %d", l.validity, tc.validity)
			}
			if len(l.byBase) != len(tc.want) {
				t.Errorf("records %+v, want %+v", l.byBase, tc.want)
			}
			for base, want := range tc.want {
				if got := l.byBase[base]; got != want {
					t.Errorf("record of %s = %+v, want %+v", base, got, want)
				}
			}
		})
	}
}

func TestUIDLFormat(t *testing.T) {
	rec := uidRecord{uid: 25021, fname: "1700000001.M2P1.host,S=120:2,RS", guid: "0123abcd"}
	cases := []struct {
		format, want string
	}{
		{"%08Xu%08Xv", "000061bd4c0a8cb0"},
		{"%u", "25021"},
		{"%v.%u", "1275759792.25021"},
		{"%f", "1700000001.M2P1.host,S=120"}, // as the real Dovecot shows it (e2e)
		{"%g", "0123abcd"},
		{"%{uid}-%{uidvalidity}", "25021-1275759792"},
		{"x%%%4u", "x%25021"},
		{"%10u", "0000025021"},
	}
	for _, tc := range cases {
		f, err := parseUIDLFormat(tc.format)
		if err != nil {
			t.Errorf("%s: %v", tc.format, err)
			continue
		}
		if got := f.uidl(1275759792, rec); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.format, got, tc.want)
		}
	}
	noGUID := uidRecord{uid: 1, fname: "base.host:2,"}
	if got := defaultUIDLFormat.uidl(1, uidRecord{uid: 1, pop3: "saved"}); got != "saved" {
		t.Errorf("a P field gives %q, want the saved UIDL", got)
	}
	f, _ := parseUIDLFormat("%g")
	if got := f.uidl(1, noGUID); got != "base.host" {
		t.Errorf("%%g without a G field gives %q, want the base name", got)
	}
	for _, bad := range []string{"", "%m", "%{md5}", "%x", "%Xf", "%08X", "%{uid", "a b", "%999u"} {
		if _, err := parseUIDLFormat(bad); err == nil {
			t.Errorf("%q accepted, want an error", bad)
		}
	}
}

// writeUIDList writes maildir's dovecot-uidlist.
func writeUIDList(t *testing.T, maildir, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(maildir, DovecotUIDListName), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// uidlsByContent opens alice's maildrop and returns each message's UIDL
// by its content, checking that no two messages share a UIDL.
func uidlsByContent(t *testing.T, m *Maildir, dir string) map[string]string {
	t.Helper()
	md, _ := openAlice(t, m, dir)
	defer md.Close()
	out := map[string]string{}
	seen := map[string]bool{}
	for i, msg := range md.Messages() {
		if seen[msg.UID] {
			t.Errorf("UIDL %q shown twice", msg.UID)
		}
		seen[msg.UID] = true
		out[string(content(t, md, i))] = msg.UID
	}
	return out
}

func TestDovecotUIDLsKept(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	// Dovecot recorded a in new/, b with other flags and without W=, c
	// and d with a saved UIDL equal to a's (a collision), and e whose
	// derived UIDL is f's base name. g was delivered after the switch.
	writeMaildirFile(t, root, dirNew, "1700000000.M1P1.host", []byte("a\n"))
	writeMaildirFile(t, root, dirCur, "1700000001.M2P1.host,S=2:2,RS", []byte("b\n"))
	writeMaildirFile(t, root, dirCur, "1700000002.M3P1.host:2,", []byte("c\n"))
	writeMaildirFile(t, root, dirCur, "1700000003.M4P1.host:2,", []byte("d\n"))
	writeMaildirFile(t, root, dirCur, "1700000004.M5P1.host:2,", []byte("e\n"))
	writeMaildirFile(t, root, dirCur, "0000000500000007:2,", []byte("f\n"))
	writeMaildirFile(t, root, dirNew, "1700000009.M9P1.host", []byte("g\n"))
	writeUIDList(t, root, "3 V7 N9 Gabc\n"+
		"1 :1700000000.M1P1.host\n"+
		"2 W2 :1700000001.M2P1.host,S=2:2,\n"+
		"3 P0000000100000007 :1700000002.M3P1.host:2,\n"+
		"4 G4444 :1700000003.M4P1.host\n"+
		"5 :1700000004.M5P1.host\n")
	want := map[string]string{
		"a\n": "0000000100000007",
		"b\n": "0000000200000007",
		"d\n": "0000000400000007",
		"e\n": "0000000500000007",
		"g\n": "1700000009.M9P1.host",
	}
	first := uidlsByContent(t, m, dir)
	for c, uid := range want {
		if first[c] != uid {
			t.Errorf("message %q has UIDL %q, want %q", c, first[c], uid)
		}
	}
	// c's saved UIDL is a's: c gets a unique one of its own; f's base
	// name is e's derived UIDL: f gets a unique one too.
	for _, c := range []string{"c\n", "f\n"} {
		if first[c] == "" || slices.Contains([]string{"0000000100000007", "0000000500000007"}, first[c]) {
			t.Errorf("message %q has UIDL %q, want a unique fallback", c, first[c])
		}
	}
	if second := uidlsByContent(t, m, dir); fmt.Sprint(second) != fmt.Sprint(first) {
		t.Errorf("UIDLs changed between logins: %v, then %v", first, second)
	}
	// The file is only read.
	if b, _ := os.ReadFile(filepath.Join(root, DovecotUIDListName)); !strings.HasPrefix(string(b), "3 V7 N9 Gabc\n1 :") {
		t.Errorf("dovecot-uidlist was changed: %q", b)
	}

	// Another format, as a site that set pop3_uidl_format = %v.%u.
	m2 := &Maildir{Path: m.Path, UIDLFormat: "%v.%u"}
	m2.format, _ = parseUIDLFormat(m2.UIDLFormat)
	if got := uidlsByContent(t, m2, dir)["b\n"]; got != "7.2" {
		t.Errorf("with %%v.%%u, b has UIDL %q, want 7.2", got)
	}
}

func TestDovecotUIDListIgnoredWhenNotAFile(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	writeMaildirFile(t, root, dirCur, "1700000000.M1P1.host:2,", []byte("a\n"))
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(elsewhere, []byte("3 V7 N2\n1 :1700000000.M1P1.host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(root, DovecotUIDListName)); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if got := uidlsByContent(t, m, dir)["a\n"]; got != "1700000000.M1P1.host" {
		t.Errorf("through a symbolic link, a has UIDL %q, want its base name", got)
	}
}

// TestDovecotUIDListChangeMissesCache checks that the listing cache is not
// reused when dovecot-uidlist changed (or the format did).
func TestDovecotUIDListChangeMissesCache(t *testing.T) {
	if _, err := stampDir(t.TempDir()); err != nil {
		t.Skip("no listing cache here:", err)
	}
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	writeMaildirFile(t, root, dirNew, "1700000000.M1P1.host", []byte("a\n"))
	writeUIDList(t, root, "3 V7 N2\n1 :1700000000.M1P1.host\n")
	uidlsByContent(t, m, dir) // moves a into cur/
	time.Sleep(trustAfter + 100*time.Millisecond)
	if got := uidlsByContent(t, m, dir)["a\n"]; got != "0000000100000007" {
		t.Fatalf("a has UIDL %q", got)
	}
	hits := listings.hits.Load()
	if got := uidlsByContent(t, m, dir)["a\n"]; got != "0000000100000007" || listings.hits.Load() == hits {
		t.Fatalf("unchanged maildir: UIDL %q, served from the cache: %v", got, listings.hits.Load() > hits)
	}
	writeUIDList(t, root, "3 V8 N2\n1 :1700000000.M1P1.host\n")
	if got := uidlsByContent(t, m, dir)["a\n"]; got != "0000000100000008" {
		t.Errorf("after dovecot-uidlist changed, a has UIDL %q, want 0000000100000008", got)
	}
	m2 := &Maildir{Path: m.Path, UIDLFormat: "%u"}
	m2.format, _ = parseUIDLFormat(m2.UIDLFormat)
	if got := uidlsByContent(t, m2, dir)["a\n"]; got != "1" {
		t.Errorf("with another uidl_format, a has UIDL %q, want 1", got)
	}
}

// TestProvisionUIDLFormat checks that a JSON config's bad uidl_format is an
// error at load time naming the field.
func TestProvisionUIDLFormat(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	for format, ok := range map[string]bool{"%f": true, "%08Xu%08Xv": true, "%m": false, "%Z": false} {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		m := Maildir{UIDLFormat: format}
		err := m.Provision(ctx)
		cancel()
		if ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "uidl_format")) {
			t.Errorf("uidl_format %q: error %v", format, err)
		}
	}
}

func TestHeaderXUIDL(t *testing.T) {
	long := "X-Long: " + strings.Repeat("x", 10000) + "\r\n"
	cases := map[string]string{
		"X-UIDL: abc123\r\nSubject: a\r\n\r\nbody":        "abc123",
		"Subject: a\nx-uidl:   spaced \n\nbody":           "spaced",
		"Subject: a\r\n\r\nX-UIDL: in-body\r\n":           "",
		"X-UIDL: two words\r\n\r\n":                       "",
		"X-UIDL: \r\n\r\n":                                "",
		long + "X-UIDL: after-long\r\n\r\n":               "after-long",
		"X-UIDL: " + strings.Repeat("a", 71) + "\r\n\r\n": "",
		"X-UIDL: at-eof":                                  "at-eof",
	}
	for in, want := range cases {
		if got := headerXUIDL(strings.NewReader(in)); got != want {
			t.Errorf("headerXUIDL(%.40q) = %q, want %q", in, got, want)
		}
	}
}

func TestReuseXUIDL(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	writeMaildirFile(t, root, dirCur, "1700000000.M1P1.host:2,", []byte("X-UIDL: listed\r\n\r\na\n"))
	writeMaildirFile(t, root, dirCur, "1700000001.M2P1.host:2,", []byte("X-UIDL: qpopper-uidl\r\n\r\nb\n"))
	writeMaildirFile(t, root, dirCur, "1700000002.M3P1.host:2,", []byte("X-UIDL: qpopper-uidl\r\n\r\nc\n"))     // a duplicate
	writeMaildirFile(t, root, dirCur, "1700000003.M4P1.host:2,", []byte("X-UIDL: 0000000100000007\r\n\r\nd\n")) // a's
	writeMaildirFile(t, root, dirCur, "1700000004.M5P1.host:2,", []byte("Subject: e\r\n\r\ne\n"))
	writeUIDList(t, root, "3 V7 N2\n1 :1700000000.M1P1.host\n")

	if got := uidlsByContent(t, m, dir)["X-UIDL: qpopper-uidl\r\n\r\nb\n"]; got != "1700000001.M2P1.host" {
		t.Errorf("without reuse_xuidl, b has UIDL %q, want its base name", got)
	}
	m.ReuseXUIDL = true
	got := uidlsByContent(t, m, dir)
	want := map[string]string{
		"X-UIDL: listed\r\n\r\na\n":           "0000000100000007", // dovecot-uidlist comes first
		"X-UIDL: qpopper-uidl\r\n\r\nb\n":     "qpopper-uidl",
		"X-UIDL: qpopper-uidl\r\n\r\nc\n":     "1700000002.M3P1.host", // taken: its base name
		"X-UIDL: 0000000100000007\r\n\r\nd\n": "1700000003.M4P1.host", // taken by a
		"Subject: e\r\n\r\ne\n":               "1700000004.M5P1.host",
	}
	for c, uid := range want {
		if got[c] != uid {
			t.Errorf("with reuse_xuidl, %q has UIDL %q, want %q", c, got[c], uid)
		}
	}
}
