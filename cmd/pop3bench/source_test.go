package main

import (
	"hash/crc32"
	"strings"
	"testing"
)

func TestWireForm(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a\n", "a\r\n"},
		{"a\r\nb\n", "a\r\nb\r\n"},
		{"a\nlast", "a\r\nlast\r\n"},
		{"\n\n", "\r\n\r\n"},
		{".dot\n", ".dot\r\n"},
	} {
		got := wireForm([]byte(tc.in))
		if got.size != int64(len(tc.want)) || got.crc != crc32.Checksum([]byte(tc.want), castagnoli) {
			t.Errorf("wireForm(%q) = %+v, want the form of %q", tc.in, got, tc.want)
		}
	}
}

func TestLoadSourceAndCheck(t *testing.T) {
	boxes := map[string][]string{"user000": {"A\n", "B\n", "A\n"}}
	src, err := loadSource(writeSourceTree(t, boxes), []string{"user000"})
	if err != nil {
		t.Fatal(err)
	}
	mb := src["user000"]
	a := retrieved{size: 3, crc: crc32.Checksum([]byte("A\r\n"), castagnoli)}
	b := retrieved{size: 3, crc: crc32.Checksum([]byte("B\r\n"), castagnoli)}
	for _, tc := range []struct {
		name string
		got  []retrieved
		bad  string
	}{
		{"same messages, other order", []retrieved{b, a, a}, ""},
		{"one retrieved twice", []retrieved{a, a, a}, "matches no source"},
		{"one missing", []retrieved{a, b}, "source has 3"},
	} {
		err := mb.check(tc.got)
		if tc.bad == "" && err != nil || tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.bad)
		}
	}
	if _, err := loadSource(t.TempDir(), []string{"nobody"}); err == nil {
		t.Error("loading a missing maildir succeeded")
	}
}
