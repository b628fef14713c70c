//go:build unix

package mbox

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// writeSpool writes a spool for alice in m's directory.
func writeTestSpool(t testing.TB, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, alice)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadSpools(t *testing.T) {
	const from1 = "From a@example.net Mon Jan  1 00:00:00 2024\n"
	const from2 = "From b@example.net  Tue Jan  2 00:00:00 2024\n"
	tests := []struct {
		name  string
		spool string
		want  []string
	}{
		{"empty file", "", nil},
		{"one message", from1 + "Subject: a\n\nbody\n\n", []string{"Subject: a\n\nbody\n"}},
		{"two messages", from1 + "S: a\n\nx\n\n" + from2 + "S: b\n\ny\n\n", []string{"S: a\n\nx\n", "S: b\n\ny\n"}},
		{"no final empty line", from1 + "S: a\n\nx\n\n" + from2 + "S: b\n\ny\n", []string{"S: a\n\nx\n", "S: b\n\ny\n"}},
		{"no final newline at all", from1 + "S: a\n\nx", []string{"S: a\n\nx"}},
		{"empty message", from1 + "\n" + from2 + "S: b\n\n\n", []string{"", "S: b\n\n"}},
		{"from line only", from1, []string{""}},
		{"message ending in empty lines", from1 + "S: a\n\nx\n\n\n\n", []string{"S: a\n\nx\n\n\n"}},
		{"crlf spool", strings.ReplaceAll(from1+"S: a\n\nx\n\n"+from2+"S: b\n\ny\n\n", "\n", "\r\n"),
			[]string{"S: a\r\n\r\nx\r\n", "S: b\r\n\r\ny\r\n"}},
		{"mboxrd quoting undone", from1 + "S: a\n\n>From x\n>>From y\n>>>From z\n> From not\n>Fromage\n\n",
			[]string{"S: a\n\nFrom x\n>From y\n>>From z\n> From not\n>Fromage\n"}},
		// mboxo quoted "From " as ">From " but left ">From " alone: an
		// original ">From " line reads back as "From " (documented).
		{"mboxo ambiguity read as mboxrd", from1 + "S: a\n\n>From was quoted\n>From was original\n\n",
			[]string{"S: a\n\nFrom was quoted\nFrom was original\n"}},
		{"from line without empty line before is body", from1 + "S: a\n\nx\nFrom here on\n\n",
			[]string{"S: a\n\nx\nFrom here on\n"}},
		{"from_ line needs the space", from1 + "S: a\n\nx\n\nFromage\n\n", []string{"S: a\n\nx\n\nFromage\n"}},
		{"preamble before the first message is not a message", "garbage\nmore\n\n" + from1 + "S: a\n\nx\n\n",
			[]string{"S: a\n\nx\n"}},
		{"no from line at all", "S: a\n\nnot an mbox\n", nil},
		{"x-uidl header is content", from1 + "X-UIDL: abc\nS: a\n\nx\n\n", []string{"X-UIDL: abc\nS: a\n\nx\n"}},
		// MARK(n) stands for an authentic marker line of from1 (see
		// below), with length n.
		{"marker hidden", from1 + "MARK(4)S: a\n\n", []string{"S: a"}},
		{"marker with a final newline", from1 + "MARK(5)S: a\n\n", []string{"S: a\n"}},
		{"marker with a wrong length is still hidden", from1 + "MARK(99)S: a\n\n", []string{"S: a\n"}},
		{"marker without a MAC (another MTA wrote it) is content", from1 + "X-Caddy-POP3: uidl=u1; length=4\nS: a\n\n",
			[]string{"X-Caddy-POP3: uidl=u1; length=4\nS: a\n"}},
		{"marker with a wrong MAC is content", from1 + "X-Caddy-POP3: uidl=u1; length=4; mac=00112233445566778899aabbccddeeff\nS: a\n\n",
			[]string{"X-Caddy-POP3: uidl=u1; length=4; mac=00112233445566778899aabbccddeeff\nS: a\n"}},
		{"marker not on the first line is content", from1 + "S: a\nX-Caddy-POP3: uidl=u1; length=4\n\nx\n\n",
			[]string{"S: a\nX-Caddy-POP3: uidl=u1; length=4\n\nx\n"}},
		{"malformed marker is content", from1 + "X-Caddy-POP3: uidl=u 1; length=4\nS: a\n\n",
			[]string{"X-Caddy-POP3: uidl=u 1; length=4\nS: a\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			key := testSpoolKey(t, filepath.Join(dir, alice))
			spool := regexp.MustCompile(`MARK\((\d+)\)`).ReplaceAllStringFunc(tt.spool, func(s string) string {
				n, _ := strconv.ParseInt(s[5:len(s)-1], 10, 64)
				return string(formatMarker(key, []byte(strings.TrimSuffix(from1, "\n")), "u1", n))
			})
			writeTestSpool(t, dir, spool)
			msgs, got := contents(t, m, alice)
			var gotS []string
			for _, b := range got {
				gotS = append(gotS, string(b))
			}
			if !slices.Equal(gotS, tt.want) {
				t.Errorf("messages\n%q\nwant\n%q", gotS, tt.want)
			}
			for i, b := range got {
				if msgs[i].Size != wireSize(b) {
					t.Errorf("message %d: size %d, want %d", i, msgs[i].Size, wireSize(b))
				}
			}
		})
	}
}

func TestContentLength(t *testing.T) {
	const from1 = "From a@example.net Mon Jan  1 00:00:00 2024\n"
	const from2 = "From b@example.net Tue Jan  2 00:00:00 2024\n"
	tests := []struct {
		name  string
		spool string
		want  []string
	}{
		// mboxcl2: the body is exactly Content-Length octets, not quoted.
		{"body without final newline, no empty line",
			from1 + "Content-Length: 3\n\nabc\n" + from2 + "S: b\n\ny\n\n",
			[]string{"Content-Length: 3\n\nabc", "S: b\n\ny\n"}},
		{"body without final newline, empty line",
			from1 + "Content-Length: 3\n\nabc\n\n" + from2 + "S: b\n\ny\n\n",
			[]string{"Content-Length: 3\n\nabc", "S: b\n\ny\n"}},
		{"exact at the end of the spool", from1 + "Content-Length: 3\n\nabc", []string{"Content-Length: 3\n\nabc"}},
		{"consistent with the separator", from1 + "Content-Length: 4\n\nabc\n\n" + from2 + "S: b\n\ny\n\n",
			[]string{"Content-Length: 4\n\nabc\n", "S: b\n\ny\n"}},
		// A lie that would swallow the next message is ignored.
		{"too long, swallowing the next message",
			from1 + "Content-Length: 80\n\nabc\n\n" + from2 + "S: b\n\ny\n\n",
			[]string{"Content-Length: 80\n\nabc\n", "S: b\n\ny\n"}},
		{"too long, past the end", from1 + "Content-Length: 9999\n\nabc\n\n", []string{"Content-Length: 9999\n\nabc\n"}},
		{"too short, not at a boundary", from1 + "Content-Length: 1\n\nabc\n\n" + from2 + "S: b\n\ny\n\n",
			[]string{"Content-Length: 1\n\nabc\n", "S: b\n\ny\n"}},
		// A "From " line in the body splits only where Content-Length
		// says the body ends.
		{"from line at the stated end splits",
			from1 + "Content-Length: 2\n\nx\nFrom c@example.net Wed Jan  3 00:00:00 2024\nS: c\n\n",
			[]string{"Content-Length: 2\n\nx\n", "S: c\n"}},
		{"from line before the stated end does not split",
			from1 + "Content-Length: 30\n\nx\nFrom here on, unquoted\nmore\n\n",
			[]string{"Content-Length: 30\n\nx\nFrom here on, unquoted\nmore\n"}},
		{"not a number", from1 + "Content-Length: 3x\n\nabc\n\n", []string{"Content-Length: 3x\n\nabc\n"}},
		{"negative", from1 + "Content-Length: -1\n\nabc\n\n", []string{"Content-Length: -1\n\nabc\n"}},
		{"in the body is not a header", from1 + "S: a\n\nContent-Length: 1\n\nabc\n\n",
			[]string{"S: a\n\nContent-Length: 1\n\nabc\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			writeTestSpool(t, dir, tt.spool)
			_, got := contents(t, m, alice)
			var gotS []string
			for _, b := range got {
				gotS = append(gotS, string(b))
			}
			if !slices.Equal(gotS, tt.want) {
				t.Errorf("messages\n%q\nwant\n%q", gotS, tt.want)
			}
		})
	}
}

func TestScanLongLines(t *testing.T) {
	// Lines longer than the scanner's buffer, a From_ line among them,
	// and a long run of '>' before "From ".
	long := strings.Repeat("y", 3*scanBufferSize+17)
	quoted := strings.Repeat(">", 2*scanBufferSize) + "From deep\n"
	spool := "From a@example.net Mon Jan  1 00:00:00 2024\nS: " + long + "\n\n" + long + "\n" + quoted + "\n" +
		"From b@example.net Mon Jan  1 00:00:00 2024\n" + long + "\n\n"
	m, dir := newTestStore(t)
	writeTestSpool(t, dir, spool)
	_, got := contents(t, m, alice)
	want := []string{"S: " + long + "\n\n" + long + "\n" + quoted[1:], long + "\n"}
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("message %d differs (%d octets, want %d)", i, len(got[i]), len(want[i]))
		}
	}
}

func TestUIDLs(t *testing.T) {
	const from1 = "From a@example.net Mon Jan  1 00:00:00 2024\n"
	const from2 = "From a@example.net Mon Jan  1 00:00:01 2024\n"
	m, dir := newTestStore(t)
	spool := writeTestSpool(t, dir,
		from1+"X-UIDL: kept-from-qpopper\nS: 1\n\nx\n\n"+
			from1+"S: 2\n\nsame\n\n"+
			from1+"S: 2\n\nsame\n\n"+ // identical to the previous one
			from2+"S: 2\n\nsame\n\n"+ // same content, another second
			from1+"X-UIDL: kept-from-qpopper\nS: 5\n\nduplicate X-UIDL\n\n"+
			from1+"X-Caddy-POP3: uidl=given.at.delivery; length=6\nS: 6\n\n"+
			from1+"X-UIDL: bad uidl with spaces\nS: 7\n\n\n")
	msgs, _ := contents(t, m, alice)
	uids := make([]string, len(msgs))
	for i, msg := range msgs {
		uids[i] = msg.UID
	}
	if uids[0] != "kept-from-qpopper" {
		t.Errorf("X-UIDL not used: %q", uids[0])
	}
	if uids[5] == "given.at.delivery" {
		t.Errorf("a marker line that another MTA wrote (no valid MAC) set the UIDL")
	}
	if uids[2] != uids[1]+"-2" {
		t.Errorf("identical messages: %q and %q, want the second to be the first with -2", uids[1], uids[2])
	}
	if uids[3] == uids[1] || strings.HasPrefix(uids[3], uids[1]) {
		t.Errorf("the same content with another From_ line shares the UIDL: %q, %q", uids[1], uids[3])
	}
	seen := map[string]bool{}
	for i, u := range uids {
		if !validUID([]byte(u)) || seen[u] {
			t.Errorf("message %d: UIDL %q invalid or repeated", i, u)
		}
		seen[u] = true
	}

	// Reading a message in a mail reader adds Status fields; deleting
	// other messages moves it. Neither changes its UIDL.
	data, err := os.ReadFile(spool)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("S: 2\n\nsame\n\n"+from2), []byte("S: 2\n\nsame\n\n"+from2+"Status: RO\nX-Status: A\n"), 1)
	if err := os.WriteFile(spool, data, 0o600); err != nil {
		t.Fatal(err)
	}
	commit(t, m, alice, 0, 1)
	after, _ := contents(t, m, alice)
	var got []string
	for _, msg := range after {
		got = append(got, msg.UID)
	}
	// Every message keeps the UIDL it was shown with: the second of
	// two identical messages keeps its "-2", the second message with
	// the same X-UIDL its hash.
	want := []string{uids[2], uids[3], uids[4], uids[5], uids[6]}
	if !slices.Equal(got, want) {
		t.Errorf("UIDLs after the commit\n%q\nwant\n%q", got, want)
	}
}

// wireSize is storage.WireSize, named for the tables above.
func wireSize(b []byte) int64 {
	var n int64
	for i, c := range b {
		n++
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			n++
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n += 2
	}
	return n
}

// FuzzScan reads arbitrary bytes as a spool: the scan must not fail, and
// the messages must tile the spool after the preamble.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{"", "From \n", "From a\n\nFrom b\n", "x\n\nFrom a\nContent-Length: 1\n\nFrom b\n", "From a\nX-Caddy-POP3: uidl=x; length=3\n\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, spool []byte) {
		lay, err := scanLayout(bytes.NewReader(spool), testKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := describe(bytes.NewReader(spool), &lay, nil, defaultUIDLFormat); err != nil {
			t.Fatal(err)
		}
		next := lay.preamble
		for i, m := range lay.msgs {
			if m.start != next || m.start >= m.content && m.content != m.end || m.content > m.contentEnd || m.contentEnd > m.end {
				t.Fatalf("message %d: start %d content %d contentEnd %d end %d (expected start %d)", i, m.start, m.content, m.contentEnd, m.end, next)
			}
			if !validUID([]byte(m.uid)) {
				t.Fatalf("message %d: UIDL %q", i, m.uid)
			}
			next = m.end
		}
		if next != int64(len(spool)) && len(lay.msgs) > 0 || lay.size != int64(len(spool)) {
			t.Fatalf("messages end at %d, spool is %d octets", next, len(spool))
		}
	})
}

// TestUIDLsPersisted covers the UIDL list: UIDLs of mail from other MTAs
// are saved before they are shown and survive any deletion, also by
// another program; the spool's key is private.
func TestUIDLsPersisted(t *testing.T) {
	const from = "From a@example.net Mon Jan  1 00:00:00 2024\n"
	m, dir := newTestStore(t)
	spool := writeTestSpool(t, dir,
		from+"X-UIDL: same\nS: 1\n\none\n\n"+
			from+"X-UIDL: same\nS: 2\n\ntwo\n\n"+
			from+"S: 3\n\ntwin\n\n"+
			from+"S: 3\n\ntwin\n\n"+
			from+"S: 3\n\ntwin\n\n")
	uids := func() []string {
		msgs, _ := contents(t, m, alice)
		var out []string
		for _, msg := range msgs {
			out = append(out, msg.UID)
		}
		return out
	}
	first := uids()
	if first[0] != "same" || first[1] == "same" || first[3] != first[2]+"-2" || first[4] != first[2]+"-3" {
		t.Fatalf("UIDLs %q", first)
	}
	if st, err := os.Stat(keyPath(spool)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the spool's key: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	// This server deletes the first X-UIDL message and the first twin;
	// another program (a mail reader) the second X-UIDL message. (When
	// another program deletes one of identical messages, which one it
	// was cannot be told: those left may take the UIDLs of the gone
	// ones, all of the same content.)
	commit(t, m, alice, 0, 2)
	rewriteWithout(t, spool, first[1])
	if got, want := uids(), []string{first[3], first[4]}; !slices.Equal(got, want) {
		t.Errorf("UIDLs after the deletions %q, want %q", got, want)
	}
}
