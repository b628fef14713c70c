//go:build unix

package mbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func TestDeliverFormat(t *testing.T) {
	tests := []struct {
		name   string
		sender string // "" for none in the envelope
		msg    string
		from   string // the sender on the From_ line
		body   string // what follows the marker line
	}{
		{"no sender", "", "Subject: x\n\nFrom me\n", "MAILER-DAEMON", "Subject: x\n\n>From me\n\n"},
		{"sender", "alice@example.net", "S: x\n\n>From q\n", "alice@example.net", "S: x\n\n>>From q\n\n"},
		{"angle brackets", "<bob@example.net>", "x\n", "bob@example.net", "x\n\n"},
		{"null sender", "<>", "x\n", "MAILER-DAEMON", "x\n\n"},
		{"sender with a space", "a b@example.net", "x\n", "MAILER-DAEMON", "x\n\n"},
		{"sender with a newline", "a@example.net\nFrom evil", "x\n", "MAILER-DAEMON", "x\n\n"},
		{"no final newline", "", "x", "MAILER-DAEMON", "x\n\n"},
		{"empty", "", "", "MAILER-DAEMON", "\n"},
	}
	fromLine := regexp.MustCompile(`^From (\S+) (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4}\n`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			env := storage.Envelope{Sender: tt.sender}
			if err := m.Deliver(context.Background(), alice, env, strings.NewReader(tt.msg)); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, alice))
			if err != nil {
				t.Fatal(err)
			}
			sub := fromLine.FindSubmatch(raw)
			if sub == nil {
				t.Fatalf("no valid From_ line in %q", raw)
			}
			if string(sub[1]) != tt.from {
				t.Errorf("From_ line sender %q, want %q", sub[1], tt.from)
			}
			rest := raw[len(sub[0]):]
			marker, body, _ := bytes.Cut(rest, []byte("\n"))
			key, err := spoolKey(filepath.Join(dir, alice))
			if err != nil {
				t.Fatal(err)
			}
			uid, length, ok := verifyMarker(key, sub[0][:len(sub[0])-1], append(marker, '\n'))
			if !ok {
				t.Fatalf("no marker line: %q", rest)
			}
			if string(body) != tt.body {
				t.Errorf("stored body %q, want %q", body, tt.body)
			}
			if want := quotedLen([]byte(tt.msg)); length != want {
				t.Errorf("marker length %d, want %d", length, want)
			}
			msgs, got := contents(t, m, alice)
			if len(got) != 1 || string(got[0]) != tt.msg || msgs[0].UID != uid {
				t.Errorf("read back %q with UIDL %q, want %q with %q", got, msgs[0].UID, tt.msg, uid)
			}
		})
	}
}

func TestDeliverAfterForeignSpool(t *testing.T) {
	// Spools whose last message lacks the empty line (or even the final
	// newline) get one before the new From_ line, so that it starts a
	// message and the last one keeps its content.
	tests := []struct {
		name, spool, lastWant string
	}{
		{"no empty line", "From a Mon Jan  1 00:00:00 2024\nS: a\n\nx\n", "S: a\n\nx\n"},
		{"no final newline", "From a Mon Jan  1 00:00:00 2024\nS: a\n\nx", "S: a\n\nx\n"},
		{"one newline only", "\n", ""},
		{"proper", "From a Mon Jan  1 00:00:00 2024\nS: a\n\nx\n\n", "S: a\n\nx\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			writeTestSpool(t, dir, tt.spool)
			msg := []byte("Subject: new\n\nnew\n")
			if err := m.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
				t.Fatal(err)
			}
			_, got := contents(t, m, alice)
			want := [][]byte{msg}
			if tt.lastWant != "" {
				want = [][]byte{[]byte(tt.lastWant), msg}
			}
			if len(got) != len(want) {
				t.Fatalf("messages %q, want %q", got, want)
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("message %d: %q, want %q", i, got[i], want[i])
				}
			}
		})
	}
}

func TestDeliverCreatesSpool(t *testing.T) {
	dir := t.TempDir()
	m := &Mbox{Path: filepath.Join(dir, "{pop3.user.domain}", "{pop3.user.local}")}
	if err := m.Deliver(context.Background(), alice, storage.Envelope{}, strings.NewReader("x\n")); err != nil {
		t.Fatal(err)
	}
	st := statOf(t, filepath.Join(dir, "example.com", "alice"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("new spool has mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, "example.com", "alice"+DotlockSuffix)); !os.IsNotExist(err) {
		t.Errorf("dotlock left behind: %v", err)
	}
}

func TestNewUID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		u, err := newUID(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !validUID([]byte(u)) || seen[u] {
			t.Fatalf("UIDL %q invalid or repeated", u)
		}
		seen[u] = true
	}
}

// FuzzSpoolRoundTrip delivers the parts of the input (split at 0xff) as
// messages and reads them back: every message must come back byte for
// byte, with its wire size, whatever it contains.
func FuzzSpoolRoundTrip(f *testing.F) {
	for _, seed := range []string{
		"", "From x\n", "a\xffb", "\n\n\xff\n", "From a\n\nFrom b\n\xff>From c",
		"Content-Length: 0\n\nFrom x\n\xffy", "X-Caddy-POP3: uidl=a; length=0\n\xff\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		msgs := bytes.Split(input, []byte{0xff})
		var spool []byte
		for i, msg := range msgs {
			if len(spool) > 0 && !bytes.HasSuffix(spool, []byte("\n\n")) {
				t.Fatalf("record %d does not end with an empty line", i-1)
			}
			spool = append(spool, buildRecord("s@example.net", time.Unix(0, 0), "u"+string(rune('a'+i%26)), msg, testKey)...)
		}
		lay, err := scanLayout(bytes.NewReader(spool), testKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := describe(bytes.NewReader(spool), &lay, nil, defaultUIDLFormat); err != nil {
			t.Fatal(err)
		}
		if len(lay.msgs) != len(msgs) {
			t.Fatalf("%d messages read back, want %d", len(lay.msgs), len(msgs))
		}
		for i, m := range lay.msgs {
			var got bytes.Buffer
			if _, err := got.ReadFrom(openContent(bytes.NewReader(spool), &m)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), msgs[i]) {
				t.Fatalf("message %d: %q, want %q", i, got.Bytes(), msgs[i])
			}
			if m.size != wireSize(msgs[i]) {
				t.Fatalf("message %d: size %d, want %d", i, m.size, wireSize(msgs[i]))
			}
		}
	})
}
