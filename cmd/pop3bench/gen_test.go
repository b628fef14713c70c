package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int
		attachment bool
	}{
		{"small", 4096, false},
		{"big", 1 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			args := []string{"-out", root, "-users", "2", "-first-user", "7", "-messages", "3", "-size", itoa(tc.size)}
			if err := generate(args, io.Discard); err != nil {
				t.Fatal(err)
			}
			var dotLines int
			for _, user := range []string{"user007", "user008"} {
				dir := filepath.Join(root, user, "Maildir")
				for _, sub := range []string{"cur", "tmp"} {
					if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
						t.Errorf("%s/%s missing: %v", user, sub, err)
					}
				}
				entries, err := os.ReadDir(filepath.Join(dir, "new"))
				if err != nil || len(entries) != 3 {
					t.Fatalf("%s/new: %d entries, %v", user, len(entries), err)
				}
				for _, e := range entries {
					if strings.ContainsAny(e.Name(), ":/") {
						t.Errorf("file name %q is not a valid new/ name", e.Name())
					}
					b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					if bytes.IndexByte(b, '\r') >= 0 {
						t.Errorf("%s contains CR; generated mail has LF endings", e.Name())
					}
					if len(b) < tc.size*9/10 || len(b) > tc.size*11/10+1024 {
						t.Errorf("%s: %d bytes, want about %d", e.Name(), len(b), tc.size)
					}
					head, body, ok := bytes.Cut(b, []byte("\n\n"))
					if !ok || !bytes.Contains(head, []byte("\nMessage-ID: <")) || !bytes.Contains(head, []byte("To: "+user+"@")) {
						t.Errorf("%s: headers %q", e.Name(), head)
					}
					if got := bytes.Contains(head, []byte("multipart/mixed")); got != tc.attachment {
						t.Errorf("%s: multipart %v, want %v", e.Name(), got, tc.attachment)
					}
					for _, l := range bytes.Split(body, []byte("\n")) {
						if len(l) > 0 && l[0] == '.' {
							dotLines++
						}
					}
				}
			}
			if dotLines == 0 {
				t.Error("no line begins with '.'")
			}
		})
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, root := range []string{a, b} {
		if err := generate([]string{"-out", root, "-users", "1", "-messages", "2"}, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(a, "user000", "Maildir", "new"))
	for _, e := range entries {
		x, _ := os.ReadFile(filepath.Join(a, "user000", "Maildir", "new", e.Name()))
		y, err := os.ReadFile(filepath.Join(b, "user000", "Maildir", "new", e.Name()))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same seed", e.Name())
		}
	}
	if len(entries) != 2 {
		t.Errorf("%d messages", len(entries))
	}
}

func TestGenerateBounds(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-out", "x", "-size", "10"},
		{"-out", "x", "-messages", "-1"},
		{"-out", "x", "-users", "1000", "-messages", "1000", "-size", "67108864"},
	} {
		if err := generate(args, io.Discard); err == nil {
			t.Errorf("generate(%q) succeeded", args)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
