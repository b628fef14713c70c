package pop3server

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"USER alice", "PASS secret with spaces", "pass  x", "RETR 1", "TOP 1 10", "LIST", "uidl 3",
		"APOP alice c4c9334bac560ecc979e58001b3e22fb", "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "",
		" ", "   USER", "USER\x00", "\xff\xfe", "RETR 99999999999999999999", "TOP 1 -1", "QUIT    ",
		"a b c d e", "NOOP\t", "ÄÖÜ", "STAT\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		cmd, err := parseCommand(line)
		if !bytes.Equal(line, orig) {
			t.Fatalf("parseCommand changed its input: %q -> %q", orig, line)
		}
		if err != nil {
			return
		}
		if n := len(cmd.name); n < 3 || n > maxKeywordLength {
			t.Fatalf("keyword %q of %q has length %d", cmd.name, line, n)
		}
		for _, c := range []byte(cmd.name) {
			if c < 'A' || c > 'Z' {
				t.Fatalf("keyword %q of %q is not upper-case letters", cmd.name, line)
			}
		}
		if !bytes.EqualFold(line[:len(cmd.name)], []byte(cmd.name)) {
			t.Fatalf("keyword %q is not the start of %q", cmd.name, line)
		}
		if len(cmd.args()) > maxArgs+1 {
			t.Fatalf("%d arguments from %q", len(cmd.args()), line)
		}
		for _, a := range cmd.args() {
			if len(a) == 0 || bytes.IndexByte(a, ' ') >= 0 || !bytes.Contains(cmd.rest, a) {
				t.Fatalf("argument %q of %q (rest %q)", a, line, cmd.rest)
			}
		}
		// The arguments are the first maxArgs+1 space-separated words of
		// rest, as splitting on ' ' and dropping empty words gives them.
		var want [][]byte
		if cmd.rest != nil {
			for _, w := range bytes.Split(cmd.rest, []byte{' '}) {
				if len(w) > 0 && len(want) <= maxArgs {
					want = append(want, w)
				}
			}
		}
		if got := cmd.args(); len(got) != len(want) {
			t.Fatalf("arguments of %q: %q, want %q", line, got, want)
		} else {
			for i := range got {
				if !bytes.Equal(got[i], want[i]) || cap(got[i]) != len(got[i]) {
					t.Fatalf("arguments of %q: %q (cap %d), want %q", line, got, cap(got[i]), want)
				}
			}
		}
		if cmd.rest != nil && !bytes.HasSuffix(line, cmd.rest) {
			t.Fatalf("rest %q is not the end of %q", cmd.rest, line)
		}
		for _, a := range cmd.args() {
			n, ok := parseNumber(a)
			if !ok {
				continue
			}
			want := strings.TrimLeft(string(a), "0")
			if want == "" {
				want = "0"
			}
			if strconv.Itoa(n) != want {
				t.Fatalf("parseNumber(%q) = %d", a, n)
			}
		}
	})
}
