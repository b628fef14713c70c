package storagetest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// sizeCases are messages with their size on the wire, worked out by hand:
// every line ending becomes CRLF, a last line without one gets CRLF added,
// an empty message is 0 octets, and dot-stuffing is not counted.
var sizeCases = []struct {
	name string
	msg  string
	size int64
}{
	{"empty", "", 0},
	{"lf only", "a\nbc\n", 7},
	{"crlf", "a\r\nbc\r\n", 7},
	{"mixed endings", "a\r\nbc\nd\r\n\n", 12},
	{"no final newline", "a\nbc", 7},
	{"crlf no final newline", "a\r\nbc", 7},
	{"single line no newline", "abc", 5},
	{"only lf", "\n", 2},
	{"only crlf", "\r\n", 2},
	{"empty lines", "a\n\n\r\n\nb\n", 12},
	{"dot lines", ".\n..\n.x\r\n.", 14},
	{"from lines", "From x\n>From y\n", 17},
	{"8-bit", "caf\xc3\xa9\n", 7},
	{"binary", "\x00\x01\xff\xfe\n\x00", 9},
	{"bare cr", "a\rb\n", 5},
	{"final cr", "a\r", 4},
	{"cr before crlf", "a\r\r\n", 4},
	{"message", "Subject: hi\r\nFrom: a@b\r\n\r\nHello\r\n.\r\n", 36},
}

// testSizes delivers each size case alone and checks its listed size and
// its content.
func (s suite) testSizes(t *testing.T) {
	for _, tc := range sizeCases {
		t.Run(tc.name, func(t *testing.T) {
			s.forEachDeliverer(t, func(t *testing.T, f Fixture, deliver func(*testing.T, string, []byte)) {
				deliver(t, alice, []byte(tc.msg))
				for range 2 { // the second session must agree with the first
					v := look(t, f.Store, alice)
					if len(v.msgs) != 1 {
						t.Fatalf("maildrop has %d messages, want 1", len(v.msgs))
					}
					if v.msgs[0].Size != tc.size {
						t.Errorf("size %d, want %d", v.msgs[0].Size, tc.size)
					}
					if !bytes.Equal(v.contents[0], []byte(tc.msg)) {
						t.Errorf("content %q, want %q", v.contents[0], tc.msg)
					}
				}
			})
		})
	}
}

// testLargeMessage checks sizes and content of messages larger than any
// reasonable buffer, with long lines.
func (s suite) testLargeMessage(t *testing.T) {
	line := strings.Repeat("x", 998)
	lfBody := strings.Repeat(line+"\n", 2048)         // 2 MiB, LF endings
	crlfBody := strings.Repeat(line+"\r\n", 1024)     // CRLF endings
	longLine := strings.Repeat("0123456789", 100_000) // 1 MB, one line, no newline
	msgs := []struct {
		msg  string
		size int64
	}{
		{"Subject: big\n\n" + lfBody, int64(len("Subject: big\n\n")+len(lfBody)) + 2 + 2048},
		{"Subject: big\r\n\r\n" + crlfBody, int64(len("Subject: big\r\n\r\n") + len(crlfBody))},
		{longLine, int64(len(longLine)) + 2},
	}
	s.forEachDeliverer(t, func(t *testing.T, f Fixture, deliver func(*testing.T, string, []byte)) {
		for _, m := range msgs {
			deliver(t, alice, []byte(m.msg))
		}
		v := look(t, f.Store, alice)
		if len(v.msgs) != len(msgs) {
			t.Fatalf("maildrop has %d messages, want %d", len(v.msgs), len(msgs))
		}
		for i, m := range msgs {
			if v.msgs[i].Size != m.size {
				t.Errorf("message %d: size %d, want %d", i, v.msgs[i].Size, m.size)
			}
			if !bytes.Equal(v.contents[i], []byte(m.msg)) {
				t.Errorf("message %d: content differs (%d bytes, want %d)", i, len(v.contents[i]), len(m.msg))
			}
		}
	})
}

// testContent delivers every size case into one maildrop and checks that
// each message reads back exactly, twice, and in any order.
func (s suite) testContent(t *testing.T) {
	s.forEachDeliverer(t, func(t *testing.T, f Fixture, deliver func(*testing.T, string, []byte)) {
		var want [][]byte
		for _, tc := range sizeCases {
			want = append(want, []byte(tc.msg))
			deliver(t, alice, []byte(tc.msg))
		}
		md := open(t, f.Store, alice)
		defer md.Close()
		v := view{msgs: md.Messages(), contents: readAll(t, md)}
		expectContents(t, v.contents, want)
		checkListing(t, v)
		for i := len(want) - 1; i >= 0; i-- { // again, backwards
			if got := read(t, md, i); !bytes.Equal(got, want[i]) {
				t.Errorf("second read of message %d: %q, want %q", i, got, want[i])
			}
		}
	})
}

// testNoSuchMessage checks that indexes out of the snapshot are refused.
func (s suite) testNoSuchMessage(t *testing.T) {
	f, d := s.fixture(t)
	for _, n := range []int{0, 2} {
		md := open(t, f.Store, alice)
		if got := len(md.Messages()); got != n {
			t.Fatalf("maildrop has %d messages, want %d", got, n)
		}
		for _, i := range []int{-1, n, n + 1, 1 << 30} {
			rc, err := md.Open(context.Background(), i)
			if err == nil {
				rc.Close()
			}
			expectErr(t, "Open out of range", err, storage.ErrNoSuchMessage)
		}
		if err := md.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for _, m := range numbered("range", 2) {
			deliver(t, d, alice, m)
		}
	}
}

// testOrder checks that messages are listed oldest first.
func (s suite) testOrder(t *testing.T) {
	s.forEachDeliverer(t, func(t *testing.T, f Fixture, deliver func(*testing.T, string, []byte)) {
		want := numbered("order", 12)
		for _, m := range want {
			deliver(t, alice, m)
		}
		expectContents(t, look(t, f.Store, alice).contents, want)
	})
}
