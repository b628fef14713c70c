package maildir

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// benchMessage is a typical small message, about 4 KB.
var benchMessage = []byte("From: sender@example.net\nTo: alice@example.com\nSubject: benchmark\n\n" +
	strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n", 55))

// fillMaildir writes n messages into cur/ of alice's maildir, with or
// without the size in their names, and returns the maildir's path.
func fillMaildir(b *testing.B, dir string, n int, withSize bool) string {
	root := filepath.Join(dir, "alice", "Maildir")
	for i := range n {
		name := fmt.Sprintf("%d.V801I%xM%d.mx.example.net", 1700000000+i, i, i)
		if withSize {
			name += fmt.Sprintf(",S=%d,W=%d", len(benchMessage), len(benchMessage)+55+4)
		}
		writeMaildirFile(b, root, dirCur, name+":2,S", benchMessage)
	}
	return root
}

// BenchmarkOpen1000 measures a login on a maildir of 1000 messages whose
// names carry their size (",W="): list, parse, sort, no file is read.
func BenchmarkOpen1000(b *testing.B) {
	m, dir := newTestStore(b)
	fillMaildir(b, dir, 1000, true)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		md, err := m.Open(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		if len(md.Messages()) != 1000 {
			b.Fatalf("%d messages", len(md.Messages()))
		}
		md.Close()
	}
}

// BenchmarkOpen1000Unsized measures the first login on a maildir of 1000
// messages without sizes in their names: every file is read to size it,
// then renamed with ",W=". The names are put back between iterations.
func BenchmarkOpen1000Unsized(b *testing.B) {
	m, dir := newTestStore(b)
	root := fillMaildir(b, dir, 1000, false)
	cur := filepath.Join(root, dirCur)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		entries, err := os.ReadDir(cur)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range entries {
			base, _, info := splitName(e.Name())
			if err := os.Rename(filepath.Join(cur, e.Name()), filepath.Join(cur, base+info)); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		md, err := m.Open(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		if len(md.Messages()) != 1000 {
			b.Fatalf("%d messages", len(md.Messages()))
		}
		md.Close()
	}
}

// BenchmarkDeliver measures one delivery of a 4 KB message, fsyncs
// included.
func BenchmarkDeliver(b *testing.B) {
	m, _ := newTestStore(b)
	ctx := context.Background()
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Deliver(ctx, "alice", storage.Envelope{}, bytes.NewReader(benchMessage)); err != nil {
			b.Fatal(err)
		}
	}
}

// fillBigMaildir writes n small messages straight into cur/ of alice's
// maildir, their names carrying their size as a delivery agent's would,
// and waits until the directories are settled enough to be cached.
func fillBigMaildir(b testing.TB, dir string, n int) string {
	return fillBigMaildirIn(b, dir, n, dirCur)
}

// fillBigMaildirIn is fillBigMaildir with the messages in sub: cur/ (as a
// mail reader leaves them, flags in the names) or new/ (as delivered, with
// Dovecot's S= and W=, and as a POP3 login leaves them).
func fillBigMaildirIn(b testing.TB, dir string, n int, sub string) string {
	root := filepath.Join(dir, "alice", "Maildir")
	writeBigMaildir(b, root, n, sub, true)
	time.Sleep(trustAfter + 100*time.Millisecond)
	return root
}

// writeBigMaildir creates the maildir root and writes n messages of 2 KiB
// into sub, with S= and W= in their names when sized, and flags when sub
// is cur/.
func writeBigMaildir(b testing.TB, root string, n int, sub string, sized bool) {
	for _, d := range []string{dirCur, dirNew, dirTmp} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"), 32)
	for i := range n {
		name := fmt.Sprintf("%d.M%dP%d.mx.example.net", 1700000000+i, i, 4000+i%1000)
		if sized {
			name += fmt.Sprintf(",S=%d,W=%d", len(body), len(body)+32)
		}
		if sub == dirCur {
			name += string(infoSep) + "2,S"
		}
		if err := os.WriteFile(filepath.Join(root, sub, name), body, 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogin50000 measures a login into an unchanged maildrop of
// 50,000 messages of 2 KiB, the poll of a help-desk mailbox: after the
// first login, it is served from the listing cache if it fits.
func BenchmarkLogin50000(b *testing.B) {
	m, dir := newTestStore(b)
	fillBigMaildir(b, dir, 50000)
	ctx := context.Background()
	md, err := m.Open(ctx, "alice") // the first login lists the maildir
	if err != nil {
		b.Fatal(err)
	}
	md.Close()
	b.ReportAllocs()
	for b.Loop() {
		md, err := m.Open(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		if len(md.Messages()) != 50000 {
			b.Fatalf("%d messages", len(md.Messages()))
		}
		md.Close()
	}
}

// BenchmarkOpenAfterRestart50000 measures the first login after a restart
// into an unchanged maildrop of 50,000 messages: the in-memory cache is
// emptied before each one. "index" reads the index file; "relist" has the
// index removed first, so the login lists the maildir (and writes the
// index again).
func BenchmarkOpenAfterRestart50000(b *testing.B) {
	m, dir := newTestStore(b)
	root := fillBigMaildir(b, dir, 50000)
	ctx := context.Background()
	md, err := m.Open(ctx, "alice") // lists, caches and writes the index
	if err != nil {
		b.Fatal(err)
	}
	md.Close()
	for _, relist := range []bool{false, true} {
		name := "index"
		if relist {
			name = "relist"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				restart()
				if relist {
					if err := os.Remove(filepath.Join(root, IndexFileName)); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				md, err := m.Open(ctx, "alice")
				if err != nil {
					b.Fatal(err)
				}
				if len(md.Messages()) != 50000 {
					b.Fatalf("%d messages", len(md.Messages()))
				}
				md.Close()
			}
		})
	}
}
