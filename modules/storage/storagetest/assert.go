package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// deliver puts msg in user's maildrop through d.
func deliver(t *testing.T, d storage.Deliverer, user string, msg []byte) {
	t.Helper()
	if err := d.Deliver(context.Background(), user, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
		t.Fatalf("Deliver(%q): %v", user, err)
	}
}

// open opens user's maildrop and fails the test on error.
func open(t *testing.T, s storage.Store, user string) storage.Maildrop {
	t.Helper()
	md, err := s.Open(context.Background(), user)
	if err != nil {
		t.Fatalf("Open(%q): %v", user, err)
	}
	if md == nil {
		t.Fatalf("Open(%q) returned a nil maildrop and no error", user)
	}
	return md
}

// read returns the content of message i of md.
func read(t *testing.T, md storage.Maildrop, i int) []byte {
	t.Helper()
	rc, err := md.Open(context.Background(), i)
	if err != nil {
		t.Fatalf("Open(%d): %v", i, err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading message %d: %v", i, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("closing message %d: %v", i, err)
	}
	return b
}

// readAll returns the content of every message of md, in order.
func readAll(t *testing.T, md storage.Maildrop) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range md.Messages() {
		out = append(out, read(t, md, i))
	}
	return out
}

// view is what a session sees: the listing and the contents.
type view struct {
	msgs     []storage.Message
	contents [][]byte
}

// look opens user's maildrop, reads everything and closes it again.
func look(t *testing.T, s storage.Store, user string) view {
	t.Helper()
	md := open(t, s, user)
	v := view{msgs: append([]storage.Message(nil), md.Messages()...), contents: readAll(t, md)}
	if err := md.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return v
}

// uids returns the UIDLs of msgs.
func uids(msgs []storage.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.UID
	}
	return out
}

// expectContents fails the test unless got holds exactly want, in order,
// byte for byte.
func expectContents(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("maildrop has %d messages, want %d:\ngot  %q\nwant %q", len(got), len(want), got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("message %d is %q, want %q", i, got[i], want[i])
		}
	}
}

// checkListing checks the invariants of a snapshot's listing: valid and
// unique UIDLs, sizes equal to the wire size of the contents.
func checkListing(t *testing.T, v view) {
	t.Helper()
	seen := make(map[string]int)
	for i, m := range v.msgs {
		if err := validUID(m.UID); err != nil {
			t.Errorf("message %d: %v", i, err)
		}
		if j, dup := seen[m.UID]; dup {
			t.Errorf("messages %d and %d share the UIDL %q", j, i, m.UID)
		}
		seen[m.UID] = i
		if i < len(v.contents) {
			if want := storage.WireSize(v.contents[i]); m.Size != want {
				t.Errorf("message %d: size %d, want %d (CRLF octets of %q)", i, m.Size, want, v.contents[i])
			}
		}
	}
}

// validUID reports whether uid is a valid UIDL (RFC 1939, 7): 1 to 70
// characters in 0x21-0x7E.
func validUID(uid string) error {
	if len(uid) < 1 || len(uid) > 70 {
		return fmt.Errorf("UIDL %q has %d characters, want 1 to 70", uid, len(uid))
	}
	for i := 0; i < len(uid); i++ {
		if uid[i] < 0x21 || uid[i] > 0x7e {
			return fmt.Errorf("UIDL %q has byte 0x%02x, outside 0x21-0x7E", uid, uid[i])
		}
	}
	return nil
}

// expectErr fails the test unless err is (or wraps) want.
func expectErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// numbered returns n distinct small messages, tagged with prefix.
func numbered(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "From: sender@example.net\nSubject: %s %d\n\nmessage %s number %d\n", prefix, i, prefix, i)
	}
	return out
}
