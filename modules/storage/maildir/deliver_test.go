package maildir

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func TestDeliverWritesMaildirProtocolNames(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir") // does not exist yet
	msg := []byte("Subject: hi\n\r\nline\nlast")
	if err := m.Deliver(context.Background(), "alice", storage.Envelope{}, bytes.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if got := names(t, filepath.Join(root, dirTmp)); len(got) != 0 {
		t.Errorf("tmp/ keeps %q", got)
	}
	if got := names(t, filepath.Join(root, dirCur)); len(got) != 0 {
		t.Errorf("cur/ has %q", got)
	}
	got := names(t, filepath.Join(root, dirNew))
	if len(got) != 1 {
		t.Fatalf("new/ has %q, want one message", got)
	}
	re := regexp.MustCompile(`^(\d+)\.M(\d+)P` + strconv.Itoa(os.Getpid()) + `Q\d+\.([^/:,]+),S=(\d+),W=(\d+)$`)
	parts := re.FindStringSubmatch(got[0])
	if parts == nil {
		t.Fatalf("name %q does not match %s", got[0], re)
	}
	if parts[3] != hostname() {
		t.Errorf("host part %q, want %q", parts[3], hostname())
	}
	if parts[4] != strconv.Itoa(len(msg)) {
		t.Errorf("S=%s, want the %d bytes on disk", parts[4], len(msg))
	}
	if want := storage.WireSize(msg); parts[5] != strconv.FormatInt(want, 10) {
		t.Errorf("W=%s, want %d", parts[5], want)
	}
	path := filepath.Join(root, dirNew, got[0])
	stored, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, msg) {
		t.Errorf("stored %q, want %q as given", stored, msg)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("message mode %v, want 0600", fi.Mode().Perm())
	}
	for _, d := range []string{root, filepath.Join(root, dirNew)} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v (%v), want 0700", d, fi.Mode().Perm(), err)
		}
	}
}

func TestDeliverNamesAreUniqueAndIncreasing(t *testing.T) {
	var prev string
	seen := make(map[string]bool)
	for range 1000 {
		n := uniqueName()
		if seen[n] {
			t.Fatalf("name %q given twice", n)
		}
		seen[n] = true
		if prev != "" && compareNames(prev, n) >= 0 {
			t.Fatalf("%q does not sort after %q", n, prev)
		}
		prev = n
	}
}

func TestDeliverFailureLeavesNothing(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() context.Context
		fail bool // the reader fails half way
	}{
		{"reader error", context.Background, true},
		{"canceled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			root := filepath.Join(dir, "alice", "Maildir")
			var r io.Reader = bytes.NewReader([]byte("Subject: x\n\nx\n"))
			if tt.fail {
				r = io.MultiReader(bytes.NewReader([]byte("Subject: half\n")), errReader{})
			}
			if err := m.Deliver(tt.ctx(), "alice", storage.Envelope{}, r); err == nil {
				t.Fatal("Deliver succeeded")
			}
			for _, sub := range []string{dirTmp, dirNew, dirCur} {
				if got, err := os.ReadDir(filepath.Join(root, sub)); err == nil && len(got) != 0 {
					t.Errorf("%s/ has %d entries after a failed delivery", sub, len(got))
				}
			}
		})
	}
}

// errReader fails on the first read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestDeliverDuringSession(t *testing.T) {
	m, dir := newTestStore(t)
	md, root := openAlice(t, m, dir)
	if err := m.Deliver(context.Background(), "alice", storage.Envelope{}, bytes.NewReader([]byte("m\n"))); err != nil {
		t.Fatalf("Deliver while the maildrop is locked: %v", err)
	}
	if got := names(t, filepath.Join(root, dirNew)); len(got) != 1 {
		t.Errorf("new/ has %q, want the delivery", got)
	}
	if err := md.Commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}
