package pop3server

import (
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		line    string
		name    string
		args    []string
		rest    string
		wantErr error
	}{
		{line: "STAT", name: "STAT"},
		{line: "stat", name: "STAT"},
		{line: "StAt  ", name: "STAT", rest: " "},
		{line: "RETR 1", name: "RETR", args: []string{"1"}, rest: "1"},
		{line: "TOP 1  10", name: "TOP", args: []string{"1", "10"}, rest: "1  10"},
		{line: "PASS pass word with spaces", name: "PASS", args: []string{"pass", "word", "with"}, rest: "pass word with spaces"},
		{line: "TOP 1 2 3 4 5", name: "TOP", args: []string{"1", "2", "3"}, rest: "1 2 3 4 5"},
		{line: "PASS two words", name: "PASS", args: []string{"two", "words"}, rest: "two words"},
		{line: "XYZ", name: "XYZ"},
		{line: "", wantErr: errEmptyCommand},
		{line: "   ", wantErr: errEmptyCommand},
		{line: "RE", wantErr: errBadKeyword},
		{line: "RETRIEVE 1", wantErr: errBadKeyword},
		{line: "R3TR 1", wantErr: errBadKeyword},
		{line: "\x00\x00\x00\x00", wantErr: errBadKeyword},
		{line: "ÄÖÜ", wantErr: errBadKeyword},
		{line: " STAT", wantErr: errBadKeyword},
	} {
		cmd, err := parseCommand([]byte(tc.line))
		if err != tc.wantErr {
			t.Errorf("%q: error %v, want %v", tc.line, err, tc.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		var args []string
		for _, a := range cmd.args() {
			args = append(args, string(a))
		}
		if cmd.name != tc.name || strings.Join(args, "|") != strings.Join(tc.args, "|") || string(cmd.rest) != tc.rest {
			t.Errorf("%q: got %q %q rest %q, want %q %q rest %q", tc.line, cmd.name, args, cmd.rest, tc.name, tc.args, tc.rest)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"1", 1, true},
		{"0", 0, true},
		{"007", 7, true},
		{"123456789012345678", 123456789012345678, true},
		{"1234567890123456789", 0, false},
		{"99999999999999999999", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1a", 0, false},
		{"abc", 0, false},
		{"", 0, false},
		{"1.0", 0, false},
	} {
		got, ok := parseNumber([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: got %d %v, want %d %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
