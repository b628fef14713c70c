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
				if _, err := writeMessage(w, r, tc.bodyLines, nil); err != nil {
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
		if _, err := writeMessage(w, strings.NewReader(in), allLines, nil); err != nil {
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
	if _, err := writeMessage(w, r, allLines, nil); err == nil {
		t.Fatal("a read error mid-message was not reported")
	}
}

// referenceWire is the wire form of msg spelled out line by line, the
// specification writeMessage is checked against: each line loses its LF
// (and a CR right before it) and gets CRLF, a line that begins with '.'
// gets another, a last line without LF is ended, and with bodyLines >= 0
// only the header, the blank line and bodyLines lines of the body are kept.
func referenceWire(head string, msg []byte, bodyLines int) []byte {
	out := []byte(head)
	inHeader, body := true, 0
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
			line = bytes.TrimSuffix(line, []byte("\r"))
		} else {
			msg = nil
		}
		if len(line) > 0 && line[0] == '.' {
			out = append(out, '.')
		}
		out = append(append(out, line...), '\r', '\n')
		if bodyLines < 0 {
			continue
		}
		if inHeader {
			if len(line) == 0 {
				inHeader = false
				if bodyLines == 0 {
					break
				}
			}
			continue
		}
		if body++; body >= bodyLines {
			break
		}
	}
	return append(out, ".\r\n"...)
}

// chunkReader returns its content in reads of the given sizes, in turn.
type chunkReader struct {
	b     []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := len(c.b)
	if len(c.sizes) > 0 {
		n = max(1, c.sizes[c.i%len(c.sizes)])
		c.i++
	}
	n = min(n, len(p), len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// wireCases are inputs where the conversion has edges: chunk boundaries
// between CR and LF, a dot right after a boundary, long runs in wire form
// around a single change, a last line without a line ending.
func wireCases() map[string][]byte {
	crlf := bytes.Repeat([]byte("a line that is already in wire form\r\n"), 20000) // ~740 KiB
	lf := bytes.Repeat([]byte("a line with a bare line feed\n"), 20000)
	cases := map[string][]byte{
		"crlf":                    crlf,
		"lf":                      lf,
		"crlf then lf":            append(append([]byte{}, crlf...), lf...),
		"crlf one dot in middle":  append(append(append([]byte{}, crlf[:len(crlf)/2]...), ".dot\r\n"...), crlf[len(crlf)/2:]...),
		"crlf one bare lf at end": append(append([]byte{}, crlf...), "end\n"...),
		"crlf no final newline":   append(append([]byte{}, crlf...), "tail"...),
		"crlf final cr":           append(append([]byte{}, crlf...), "tail\r"...),
		"dot first":               append([]byte(".first\r\n"), crlf...),
		"only dots":               bytes.Repeat([]byte(".\n"), 70000),
		"only newlines":           bytes.Repeat([]byte("\n"), 300000),
		"only crlf":               bytes.Repeat([]byte("\r\n"), 150000),
		"cr only":                 bytes.Repeat([]byte("\r"), 200000),
		"one long line":           bytes.Repeat([]byte("x"), 600000),
		"header and body":         append([]byte("H: 1\r\nH: 2\n\r\n"), lf...),
	}
	return cases
}

// TestWriteMessageMatchesReference checks RETR and TOP against
// referenceWire on inputs larger than several chunks, read in every
// chunking from one byte to a whole chunk, so that CR and LF, and LF and
// '.', fall on both sides of a read boundary, and chunks in wire form
// (sent straight from the read buffer) alternate with converted ones.
func TestWriteMessageMatchesReference(t *testing.T) {
	chunkings := map[string][]int{
		"whole":          nil,
		"odd":            {1, 7, 4093, 65537, 3, 131071},
		"one then large": {1, 1 << 20},
		"small":          {37, 1000, 15000},
		"boundary crlf":  {36, 1, 37},
	}
	for name, msg := range wireCases() {
		for cname, sizes := range chunkings {
			for _, lines := range []int{allLines, 0, 3} {
				head := "+OK 1 octets\r\n"
				var out bytes.Buffer
				w := bufio.NewWriterSize(&out, writeBufferSize)
				if _, err := writeMessage(w, &chunkReader{b: msg, sizes: sizes}, lines, []byte(head)); err != nil {
					t.Fatal(err)
				}
				_ = w.Flush()
				if want := referenceWire(head, msg, lines); !bytes.Equal(out.Bytes(), want) {
					t.Errorf("%s, read %s, lines %d: %d octets differ from the %d expected (first difference at %d)",
						name, cname, lines, out.Len(), len(want), firstDifference(out.Bytes(), want))
				}
			}
		}
	}
}

func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestWriteMessageLongHead checks that a head too long to go inline (sent
// by the line-by-line path) gives the same output.
func TestWriteMessageLongHead(t *testing.T) {
	head := "+OK " + strings.Repeat("h", 2*maxInlineHead) + "\r\n"
	msg := []byte("a\n.b\r\nc")
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if _, err := writeMessage(w, bytes.NewReader(msg), allLines, []byte(head)); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	if want := referenceWire(head, msg, allLines); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("got %q, want %q", out.Bytes(), want)
	}
}

// TestWriteMessageReadErrorNothingSent checks that a read error before any
// octet of the message hands nothing to the writer, so the session can
// still answer -ERR; and that one after a chunk was sent says so.
func TestWriteMessageReadErrorNothingSent(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	sent, err := writeMessage(w, iotest.ErrReader(io.ErrUnexpectedEOF), allLines, []byte("+OK x\r\n"))
	if err == nil || sent || w.Buffered() != 0 {
		t.Fatalf("sent %v, err %v, buffered %d", sent, err, w.Buffered())
	}
	big := bytes.Repeat([]byte("line\n"), 3*readChunkSize/5)
	r := io.MultiReader(bytes.NewReader(big), iotest.ErrReader(io.ErrUnexpectedEOF))
	if sent, err := writeMessage(w, r, allLines, []byte("+OK x\r\n")); err == nil || !sent {
		t.Fatalf("after %d octets: sent %v, err %v", len(big), sent, err)
	}
}

// FuzzWriteMessage checks writeMessage against referenceWire for any
// message, any chunking of its reads and any TOP line count.
func FuzzWriteMessage(f *testing.F) {
	f.Add([]byte("a\r\n.b\nc\r"), []byte{1, 2, 3}, int8(-1))
	f.Add([]byte("H: 1\n\n.x\ny\r\n"), []byte{0}, int8(1))
	f.Add([]byte("\r\n\r\n..\r\n"), []byte{5}, int8(0))
	f.Fuzz(func(t *testing.T, msg, chunks []byte, lines int8) {
		sizes := make([]int, len(chunks))
		for i, c := range chunks {
			sizes[i] = int(c)
		}
		bodyLines := int(lines)
		if bodyLines < 0 {
			bodyLines = allLines
		}
		var out bytes.Buffer
		w := bufio.NewWriterSize(&out, writeBufferSize)
		if _, err := writeMessage(w, &chunkReader{b: msg, sizes: sizes}, bodyLines, []byte("+OK\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = w.Flush()
		if want := referenceWire("+OK\r\n", msg, bodyLines); !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%q in reads of %v, lines %d: got %q, want %q", msg, sizes, bodyLines, out.Bytes(), want)
		}
	})
}
