package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// deliverToNew puts one small message into new/ of the maildir at root as
// an MTA does (tmp/, then a rename), without a size in its name.
func deliverToNew(b testing.TB, root string, seq int) {
	name := fmt.Sprintf("%d.M%dQ%d.bench", 1800000000+seq, seq, seq)
	tmp := filepath.Join(root, dirTmp, name)
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "Subject: %d\n\nbody\n", seq), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, dirNew, name)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPollAfterDelivery50000 measures the login of a poll that finds
// one new message in new/ of a 50,000-message maildrop whose listing is
// cached: the help-desk poll with mail arriving between polls. With the
// incremental listing, only new/ is read and the cached listing extended.
// The 50,000 are in cur/ (read by a mail reader) or in new/ (as delivered,
// and as POP3 logins leave them).
func BenchmarkPollAfterDelivery50000(b *testing.B) {
	for _, sub := range []string{dirCur, dirNew} {
		b.Run("in "+sub, func(b *testing.B) { benchmarkPollAfterDelivery(b, sub) })
	}
}

func benchmarkPollAfterDelivery(b *testing.B, sub string) {
	m, dir := newTestStore(b)
	root := fillBigMaildirIn(b, dir, 50000, sub)
	ctx := context.Background()
	md, err := m.Open(ctx, "alice") // lists and caches
	if err != nil {
		b.Fatal(err)
	}
	md.Close()
	want := 50000
	b.ReportAllocs()
	seq := 0
	for b.Loop() {
		b.StopTimer()
		seq++
		deliverToNew(b, root, seq)
		want++
		b.StartTimer()
		md, err := m.Open(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		if len(md.Messages()) != want {
			b.Fatalf("%d messages, want %d", len(md.Messages()), want)
		}
		md.Close()
	}
}

// BenchmarkPollBackToBack50000 measures a poll right after a poll that
// found a delivery in new/ (within the 2-second window of that change):
// a login that checks the listing against the directories' names.
func BenchmarkPollBackToBack50000(b *testing.B) {
	m, dir := newTestStore(b)
	root := fillBigMaildir(b, dir, 50000)
	ctx := context.Background()
	seq := 0
	open := func() {
		md, err := m.Open(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		md.Close()
	}
	open()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		seq++
		deliverToNew(b, root, seq)
		open() // extends the listing, unverified: new/ changed just now
		b.StartTimer()
		open()
	}
}

// BenchmarkFirstLogin50000 measures the first login ever into a maildrop
// whose 50,000 messages of 2 KiB are all in new/ with sizes in their
// names (S=, W=) or without (each is read for its size); nothing is
// renamed. The maildir is refilled between iterations.
func BenchmarkFirstLogin50000(b *testing.B) {
	for _, sized := range []bool{true, false} {
		name := "sized"
		if !sized {
			name = "unsized"
		}
		b.Run(name, func(b *testing.B) {
			m, dir := newTestStore(b)
			root := filepath.Join(dir, "alice", "Maildir")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				restart()
				if err := os.RemoveAll(root); err != nil {
					b.Fatal(err)
				}
				writeBigMaildir(b, root, 50000, dirNew, sized)
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

var _ = time.Second

// BenchmarkDigest50000 measures the check of an unverified listing: the
// digest of the names of a 50,000-message cur/.
func BenchmarkDigest50000(b *testing.B) {
	_, dir := newTestStore(b)
	root := fillBigMaildir(b, dir, 50000)
	d, err := openTree(root, dirCur, false)
	if err != nil {
		b.Fatal(err)
	}
	defer d.close()
	b.ReportAllocs()
	for b.Loop() {
		g, err := d.digestNames()
		if err != nil || g.count != 50000 {
			b.Fatal(g.count, err)
		}
	}
}
