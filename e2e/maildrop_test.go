//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixtureMessage is a message put straight into a maildir's new/ folder,
// stored with LF line endings as a local delivery agent would.
type fixtureMessage struct {
	// UID is the file name and therefore the message's UIDL.
	UID string
	// Stored is the message as stored on disk.
	Stored string
}

// fixture is the maildrop every client test starts with. It covers lines
// that start with a dot (dot-stuffing), a line that is a lone dot, and a
// message without a final newline.
var fixture = []fixtureMessage{
	{
		UID: "1700000001.M1P1.test",
		Stored: "From: Sender <sender@example.org>\n" +
			"To: alice@test.example\n" +
			"Subject: first\n" +
			"Message-ID: <first@example.org>\n" +
			"\n" +
			"Hello Alice,\n" +
			".this line starts with a dot\n" +
			"..and this one with two\n" +
			".\n" +
			"the line above is a lone dot\n",
	},
	{
		UID: "1700000002.M2P1.test",
		Stored: "From: Sender <sender@example.org>\n" +
			"To: alice@test.example\n" +
			"Subject: second, no final newline\n" +
			"Message-ID: <second@example.org>\n" +
			"\n" +
			"the last line has no newline",
	},
	{
		UID: "1700000003.M3P1.test",
		Stored: "From: Other <other@example.net>\n" +
			"To: alice@test.example\n" +
			"Subject: third\n" +
			"Message-ID: <third@example.net>\n" +
			"\n" +
			"line 1\n" +
			"line 2\n" +
			"line 3\n" +
			"line 4\n",
	},
}

// fixtureByUID returns the fixture message with the given UIDL.
func fixtureByUID(t *testing.T, uid string) fixtureMessage {
	t.Helper()
	for _, m := range fixture {
		if m.UID == uid {
			return m
		}
	}
	t.Fatalf("server reported UIDL %q, which is not in the fixture", uid)
	return fixtureMessage{}
}

// fixtureUIDs returns the UIDLs of the fixture, sorted.
func fixtureUIDs() []string {
	var uids []string
	for _, m := range fixture {
		uids = append(uids, m.UID)
	}
	slices.Sort(uids)
	return uids
}

// Text returns the message as a client sees it after undoing the wire
// format: LF line endings, not dot-stuffed, ending with a newline.
func (m fixtureMessage) Text() string {
	if strings.HasSuffix(m.Stored, "\n") {
		return m.Stored
	}
	return m.Stored + "\n"
}

// Wire returns the message as sent by RETR before dot-stuffing: CRLF line
// endings, ending with CRLF.
func (m fixtureMessage) Wire() string {
	return toCRLF(m.Text())
}

// Size returns the message size STAT and LIST report: the octets of Wire.
func (m fixtureMessage) Size() int {
	return len(m.Wire())
}

// Top returns what TOP with n body lines shows, as Text does: the header,
// the blank line and at most n lines of the body.
func (m fixtureMessage) Top(n int) string {
	header, body, _ := strings.Cut(m.Text(), "\n\n")
	lines := strings.SplitAfter(body, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if n < len(lines) {
		lines = lines[:n]
	}
	return header + "\n\n" + strings.Join(lines, "")
}

// toCRLF turns LF line endings into CRLF.
func toCRLF(s string) string {
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// toLF turns CRLF line endings into LF.
func toLF(s string) string {
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// deliverFixture puts the fixture into new/ of maildir, oldest first.
func deliverFixture(t *testing.T, maildir string) {
	t.Helper()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Unix(1700000000, 0)
	for i, m := range fixture {
		p := filepath.Join(maildir, "new", m.UID)
		if err := os.WriteFile(p, []byte(m.Stored), 0o600); err != nil {
			t.Fatal(err)
		}
		mtime := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// uidsOnDisk returns the UIDLs of the messages in maildir's new/ and cur/,
// sorted: each file name up to its first ',' or ':'.
func uidsOnDisk(t *testing.T, maildir string) []string {
	t.Helper()
	var uids []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil {
			t.Fatalf("reading maildir: %v", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			uid, _, _ := strings.Cut(e.Name(), ":")
			uid, _, _ = strings.Cut(uid, ",")
			uids = append(uids, uid)
		}
	}
	slices.Sort(uids)
	return uids
}

// assertUIDsOnDisk checks which messages are still in maildir.
func assertUIDsOnDisk(t *testing.T, maildir string, want []string) {
	t.Helper()
	got := uidsOnDisk(t, maildir)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("messages on disk: got %q, want %q", got, want)
	}
}

// without returns uids minus the ones in drop.
func without(uids []string, drop ...string) []string {
	var out []string
	for _, u := range uids {
		if !slices.Contains(drop, u) {
			out = append(out, u)
		}
	}
	return out
}

// assertTextsEqual checks a set of delivered messages, in any order,
// against the fixture, after turning CRLF into LF.
func assertTextsEqual(t *testing.T, what string, got []string) {
	t.Helper()
	var want []string
	for _, m := range fixture {
		want = append(want, m.Text())
	}
	normalized := make([]string, len(got))
	for i, g := range got {
		normalized[i] = toLF(g)
	}
	slices.Sort(want)
	slices.Sort(normalized)
	if !slices.Equal(normalized, want) {
		t.Errorf("%s: got %d messages, want %d", what, len(normalized), len(want))
		for i := range max(len(normalized), len(want)) {
			var g, w string
			if i < len(normalized) {
				g = normalized[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("%s, message %d:\n got: %q\nwant: %q", what, i, g, w)
			}
		}
	}
}
