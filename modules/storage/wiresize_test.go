package storage

import (
	"bytes"
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
