package maildir

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestSizeAhead checks a first login into a maildir with more unsized
// messages than sizeAheadMin, which sizes them in a goroutine ahead of
// the listing: every message has its wire size (LF and CRLF bodies of
// many lengths), keeps its name and place, and nothing is lost or changed.
func TestSizeAhead(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	const n = 3 * sizeAheadMin
	want := map[int]bool{}
	bodies := map[string][]byte{}
	where := map[string]string{}
	for i := range n {
		body := mailMessage(i)
		if i%2 == 1 {
			body = bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n"))
		}
		body = append(body, strings.Repeat("x\n", i*37)...)
		sub := dirNew
		if i%5 == 0 {
			sub = dirCur // some already in cur/, unsized as well
		}
		name := fmt.Sprintf("%d.M%dP1.host", 1700000000+i, i)
		writeMaildirFile(t, root, sub, name, body)
		bodies[name] = body
		where[name] = sub
		want[i] = true
	}
	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if len(md.Messages()) != n {
		t.Fatalf("%d messages, want %d", len(md.Messages()), n)
	}
	for i, msg := range md.Messages() {
		var w storage.WireSizer
		body := bodies[msg.UID]
		_, _ = w.Write(body)
		if msg.Size != w.Size() {
			t.Errorf("message %s: size %d, want %d", msg.UID, msg.Size, w.Size())
		}
		f := md.(*maildrop).files[i]
		if f.dir != where[msg.UID] || f.name != msg.UID {
			t.Errorf("message %s is %s/%s, want it where it was delivered, %s/%s", msg.UID, f.dir, f.name, where[msg.UID], msg.UID)
		}
	}
	seen := map[string]bool{}
	for i, msg := range md.Messages() {
		if got := content(t, md, i); !bytes.Equal(got, bodies[msg.UID]) || seen[msg.UID] {
			t.Errorf("message %s: content changed or listed twice", msg.UID)
		}
		seen[msg.UID] = true
	}
	if len(seen) != len(want) {
		t.Errorf("%d distinct messages, want %d", len(seen), len(want))
	}
}
