package postgres

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/maildir"
)

// benchStores returns the stores the benchmarks compare: postgres and,
// as the yardstick, maildir in a temporary directory.
func benchStores(b *testing.B) []struct {
	name  string
	store storage.Store
} {
	return []struct {
		name  string
		store storage.Store
	}{
		{"postgres", newStore(b, pgtest.DSN(b), 0)},
		{"maildir", &maildir.Maildir{Path: filepath.Join(b.TempDir(), storage.PlaceholderUser, "Maildir")}},
	}
}

// BenchmarkRETR5MiB reads one 5 MiB message per iteration (MB/s is the
// RETR throughput of the backend, without the network).
func BenchmarkRETR5MiB(b *testing.B) {
	const size = 5 << 20
	for _, s := range benchStores(b) {
		b.Run(s.name, func(b *testing.B) {
			msg := newBigMessage(size)
			if err := s.store.(storage.Deliverer).Deliver(context.Background(), alice, storage.Envelope{}, msg); err != nil {
				b.Fatal(err)
			}
			md, err := s.store.Open(context.Background(), alice)
			if err != nil {
				b.Fatal(err)
			}
			defer md.Close()
			buf := make([]byte, 32<<10)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r, err := md.Open(context.Background(), 0)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}

// BenchmarkDeliver4KiB delivers one 4 KiB message per iteration.
func BenchmarkDeliver4KiB(b *testing.B) {
	msg := append([]byte("Subject: bench\n\n"), bytes.Repeat([]byte("0123456789abcdef\n"), 4096/17)...)
	for _, s := range benchStores(b) {
		b.Run(s.name, func(b *testing.B) {
			d := s.store.(storage.Deliverer)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSession is the storage side of one POP3 session on a
// maildrop of 20 × 4 KiB messages (the small load of pop3bench): Open
// (lease and snapshot), Messages, every message opened and read, and
// Commit without deletions (QUIT: the release of the lease). For
// postgres it also reports the round trips to the database per session.
func BenchmarkSession(b *testing.B) {
	msg := append([]byte("Subject: bench\n\n"), bytes.Repeat([]byte("0123456789abcdef\n"), 4096/17)...)
	pg, writes := countedStore(b, pgtest.DSN(b))
	stores := []struct {
		name  string
		store storage.Store
	}{
		{"postgres", pg},
		{"maildir", &maildir.Maildir{Path: filepath.Join(b.TempDir(), storage.PlaceholderUser, "Maildir")}},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			for range 20 {
				if err := s.store.(storage.Deliverer).Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			before := writes.Load()
			for b.Loop() {
				md, err := s.store.Open(ctx, alice)
				if err != nil {
					b.Fatal(err)
				}
				for i := range md.Messages() {
					r, err := md.Open(ctx, i)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, r)
					r.Close()
				}
				if err := md.Commit(ctx, nil); err != nil {
					b.Fatal(err)
				}
			}
			if s.name == "postgres" {
				b.ReportMetric(float64(writes.Load()-before)/float64(b.N), "roundtrips/op")
			}
		})
	}
}
