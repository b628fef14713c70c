package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

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
			// 20 messages, also when -count runs this again on the
			// same maildrop.
			md, err := s.store.Open(context.Background(), alice)
			if err != nil {
				b.Fatal(err)
			}
			have := len(md.Messages())
			md.Close()
			for range 20 - have {
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

// BenchmarkSessionParallel is BenchmarkSession with 8 sessions at once,
// each on a maildrop of its own (the 8 clients of bench/compare.sh's
// small load): what the database's commits cost shows here, since
// concurrent commits share their WAL flushes. It reports sessions/s, and
// the CPU time per session of this process (the node, with the
// benchmark's own small share) and of the database server. Run it with
// PGTEST_DURABLE=1 to have the server flush its WAL as production does
// (the tests' server runs with fsync off).
func BenchmarkSessionParallel(b *testing.B) {
	const clients = 8
	msg := append([]byte("Subject: bench\n\n"), bytes.Repeat([]byte("0123456789abcdef\n"), 4096/17)...)
	p := newStore(b, pgtest.DSN(b), 0)
	ctx := context.Background()
	// RunParallel runs parallelism × GOMAXPROCS goroutines: one user each.
	parallelism := (clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	users := parallelism * runtime.GOMAXPROCS(0)
	for u := range users {
		for range 20 {
			if err := p.Deliver(ctx, fmt.Sprintf("bench%d", u), storage.Envelope{}, bytes.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
		}
	}
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	db0, dbErr := pgtest.Shared(b).CPUSeconds()
	node0, nodeErr := pgtest.ProcessCPU()
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		user := fmt.Sprintf("bench%d", next.Add(1)-1)
		for pb.Next() {
			md, err := p.Open(ctx, user)
			if err != nil {
				b.Error(err)
				return
			}
			for i := range md.Messages() {
				r, err := md.Open(ctx, i)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, r)
				r.Close()
			}
			if err := md.Commit(ctx, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sessions/s")
	if db1, err := pgtest.Shared(b).CPUSeconds(); err == nil && dbErr == nil {
		b.ReportMetric((db1-db0)*1000/float64(b.N), "db-cpu-ms/op")
	}
	if node1, err := pgtest.ProcessCPU(); err == nil && nodeErr == nil {
		b.ReportMetric((node1-node0)*1000/float64(b.N), "node-cpu-ms/op")
	}
}
