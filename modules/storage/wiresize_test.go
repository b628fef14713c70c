package storage

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestWireSize(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want int64
	}{
		{"empty", "", 0},
		{"lf", "a\nbc\n", 7},
		{"crlf", "a\r\nbc\r\n", 7},
		{"mixed", "a\r\nbc\nd\r\n\n", 12},
		{"no final newline", "a\nbc", 7},
		{"single line", "abc", 5},
		{"only lf", "\n", 2},
		{"bare cr", "a\rb\n", 5},
		{"final cr", "a\r", 4},
		{"cr before crlf", "a\r\r\n", 4},
		{"binary", "\x00\x01\xff\xfe\n\x00", 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WireSize([]byte(tt.msg)); got != tt.want {
				t.Errorf("WireSize(%q) = %d, want %d", tt.msg, got, tt.want)
			}
			// Split at every position: a CR and its LF in different
			// writes must still count once.
			for cut := 0; cut <= len(tt.msg); cut++ {
				var w WireSizer
				_, _ = w.Write([]byte(tt.msg[:cut]))
				_, _ = w.Write([]byte(tt.msg[cut:]))
				if got := w.Size(); got != tt.want {
					t.Errorf("split at %d: Size() = %d, want %d", cut, got, tt.want)
				}
			}
		})
	}
}

func TestWireSizerByteByByte(t *testing.T) {
	msg := bytes.Repeat([]byte("line\r\nother\n\r\n.\rx"), 50)
	var w WireSizer
	for i := range msg {
		_, _ = w.Write(msg[i : i+1])
	}
	if got, want := w.Size(), WireSize(msg); got != want {
		t.Errorf("byte by byte: %d, in one write: %d", got, want)
	}
}

// referenceWireSize is the definition of WireSizer, byte by byte.
func referenceWireSize(msg []byte) int64 {
	var n int64
	for i, c := range msg {
		n++
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			n++
		}
	}
	if len(msg) > 0 && msg[len(msg)-1] != '\n' {
		n += 2
	}
	return n
}

// TestWireSizerMatchesReference compares WireSizer with the byte-by-byte
// definition on pseudo-random messages of CR, LF and text, written in
// pseudo-random pieces (a fixed seed: the same cases every run).
func TestWireSizerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 19))
	alphabet := []byte("\r\n\r\nab.")
	for range 2000 {
		msg := make([]byte, rng.IntN(300))
		for i := range msg {
			msg[i] = alphabet[rng.IntN(len(alphabet))]
		}
		var w WireSizer
		for rest := msg; len(rest) > 0; {
			k := 1 + rng.IntN(len(rest))
			_, _ = w.Write(rest[:k])
			rest = rest[k:]
		}
		if got, want := w.Size(), referenceWireSize(msg); got != want {
			t.Fatalf("%q: Size() = %d, want %d", msg, got, want)
		}
	}
}

// BenchmarkWireSizer sizes a 64 KiB message of 72-octet LF lines, as
// delivery and the maildir scan do.
func BenchmarkWireSizer(b *testing.B) {
	msg := bytes.Repeat([]byte(strings.Repeat("x", 71)+"\n"), 64<<10/72)
	want := referenceWireSize(msg)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var w WireSizer
		_, _ = w.Write(msg)
		if w.Size() != want {
			b.Fatal("wrong size")
		}
	}
}
