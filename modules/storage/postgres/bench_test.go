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

// BenchmarkSession is one login with 20 messages of 4 KiB: Open (lease
// and snapshot), read every message, delete none, Close.
func BenchmarkSession(b *testing.B) {
	msg := append([]byte("Subject: bench\n\n"), bytes.Repeat([]byte("0123456789abcdef\n"), 4096/17)...)
	for _, s := range benchStores(b) {
		b.Run(s.name, func(b *testing.B) {
			for range 20 {
				if err := s.store.(storage.Deliverer).Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				md, err := s.store.Open(context.Background(), alice)
				if err != nil {
					b.Fatal(err)
				}
				for i := range md.Messages() {
					r, err := md.Open(context.Background(), i)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, r)
					r.Close()
				}
				md.Close()
			}
		})
	}
}
