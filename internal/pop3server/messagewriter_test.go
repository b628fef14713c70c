package pop3server

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func TestWriteMessage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        string
		bodyLines int
		want      string
	}{
		{"empty", "", allLines, ".\r\n"},
		{"lf", "a\nb\n", allLines, "a\r\nb\r\n.\r\n"},
		{"crlf kept", "a\r\nb\r\n", allLines, "a\r\nb\r\n.\r\n"},
		{"mixed", "a\r\nb\nc\r\n", allLines, "a\r\nb\r\nc\r\n.\r\n"},
		{"no final newline", "a\nb", allLines, "a\r\nb\r\n.\r\n"},
		{"dot stuffing", ".a\n..b\nc.\n.\n", allLines, "..a\r\n...b\r\nc.\r\n..\r\n.\r\n"},
		{"dot first byte no newline", ".", allLines, "..\r\n.\r\n"},
		{"bare cr mid line", "a\rb\n", allLines, "a\rb\r\n.\r\n"},
		{"trailing cr", "a\r", allLines, "a\r\r\n.\r\n"},
		{"empty lines", "\n\n", allLines, "\r\n\r\n.\r\n"},
		{"top 0", "H: 1\nH: 2\n\nb1\nb2\n", 0, "H: 1\r\nH: 2\r\n\r\n.\r\n"},
		{"top 1", "H: 1\n\nb1\nb2\n", 1, "H: 1\r\n\r\nb1\r\n.\r\n"},
		{"top crlf", "H: 1\r\n\r\n.b1\r\nb2\r\n", 1, "H: 1\r\n\r\n..b1\r\n.\r\n"},
		{"top more than body", "H: 1\n\nb1\n", 10, "H: 1\r\n\r\nb1\r\n.\r\n"},
		{"top no body", "H: 1\nH: 2", 3, "H: 1\r\nH: 2\r\n.\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Every chunking of the input must give the same output.
			readers := map[string]io.Reader{
				"whole":    strings.NewReader(tc.in),
				"one byte": iotest.OneByteReader(strings.NewReader(tc.in)),
			}
			for rname, r := range readers {
				var out bytes.Buffer
				w := bufio.NewWriter(&out)
				if _, err := writeMessage(w, r, tc.bodyLines, ""); err != nil {
					t.Fatal(err)
				}
				w.Flush()
				if out.String() != tc.want {
					t.Errorf("%s: got %q, want %q", rname, out.String(), tc.want)
				}
			}
		})
	}
}

// TestWriteMessageSizeMatchesStorage checks the invariant between storage
// and the wire: what RETR sends, with dot-stuffing undone and without the
// terminator, is exactly storage.WireSize octets.
func TestWriteMessageSizeMatchesStorage(t *testing.T) {
	for _, in := range []string{"", "a", "a\n", "a\r\n", "a\r", "a\rb", "\r\n\r\n", "\n.\n..\n", "x\n\r\n\ry\r", strings.Repeat("line .\n", 5000)} {
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		if _, err := writeMessage(w, strings.NewReader(in), allLines, ""); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		wire := strings.TrimSuffix(out.String(), ".\r\n")
		unstuffed := strings.ReplaceAll("\n"+wire, "\n..", "\n.")[1:]
		if got, want := int64(len(unstuffed)), storage.WireSize([]byte(in)); got != want {
			t.Errorf("%q: sent %d octets, storage says %d", in, got, want)
		}
	}
}

func TestWriteMessageReadError(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	r := io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(io.ErrUnexpectedEOF))
	if _, err := writeMessage(w, r, allLines, ""); err == nil {
		t.Fatal("a read error mid-message was not reported")
	}
}
