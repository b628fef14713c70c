package mbox

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		name, in, stored string
	}{
		{"empty", "", ""},
		{"no from lines", "a\nb\n", "a\nb\n"},
		{"from line", "From x\n", ">From x\n"},
		{"quoted from line", ">From x\n", ">>From x\n"},
		{"deeply quoted", ">>>From x\n", ">>>>From x\n"},
		{"from without space", "Fromage\n", "Fromage\n"},
		{"quote and space", "> From x\n", "> From x\n"},
		{"from in the middle of a line", "a From x\n", "a From x\n"},
		{"last line without newline", "a\nFrom x", "a\n>From x"},
		{"crlf", "From x\r\n>From y\r\n", ">From x\r\n>>From y\r\n"},
		{"only quotes", ">>>\n", ">>>\n"},
		{"from at the end", "From", "From"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := quoteAppend(nil, []byte(tt.in))
			if string(stored) != tt.stored {
				t.Errorf("quoted %q, want %q", stored, tt.stored)
			}
			if n := quotedLen([]byte(tt.in)); n != int64(len(stored)) {
				t.Errorf("quotedLen %d, want %d", n, len(stored))
			}
			got, err := io.ReadAll(newUnquoteReader(strings.NewReader(tt.stored)))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.in {
				t.Errorf("unquoted %q, want %q", got, tt.in)
			}
		})
	}
}

func TestUnquoteReaderSmallReads(t *testing.T) {
	in := []byte(strings.Repeat(">", 70_000) + "From x\n" + strings.Repeat("a", 70_000) + "\n>From y\nz")
	stored := quoteAppend(nil, in)
	for _, r := range []io.Reader{
		iotest.OneByteReader(newUnquoteReader(bytes.NewReader(stored))),
		newUnquoteReader(iotest.OneByteReader(bytes.NewReader(stored))),
		newUnquoteReader(iotest.DataErrReader(bytes.NewReader(stored))),
	} {
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, in) {
			t.Errorf("round trip lost bytes: %d octets, want %d", len(got), len(in))
		}
	}
}

func TestUnquoteReaderError(t *testing.T) {
	r := newUnquoteReader(io.MultiReader(strings.NewReader(">From x\n"), iotest.ErrReader(io.ErrUnexpectedEOF)))
	got, err := io.ReadAll(r)
	if err != io.ErrUnexpectedEOF {
		t.Errorf("error %v, want %v", err, io.ErrUnexpectedEOF)
	}
	if string(got) != "From x\n" {
		t.Errorf("read %q before the error", got)
	}
}

func FuzzQuoteRoundTrip(f *testing.F) {
	for _, seed := range []string{"", "From x\n", ">From\n>>From y", "\n\n>", "a\r\nFrom \r\n>", strings.Repeat(">", 100) + "From "} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		stored := quoteAppend(nil, msg)
		if int64(len(stored)) != quotedLen(msg) {
			t.Fatalf("quotedLen %d, want %d", quotedLen(msg), len(stored))
		}
		for _, line := range bytes.SplitAfter(stored, []byte("\n")) {
			if isFromLine(line) {
				t.Fatalf("stored line %q would start a message", line)
			}
		}
		got, err := io.ReadAll(newUnquoteReader(bytes.NewReader(stored)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("round trip %q -> %q -> %q", msg, stored, got)
		}
	})
}
