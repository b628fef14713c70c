package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"runtime"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// bigMessage is an io.Reader of a generated message of size bytes that
// is never whole in memory; it hashes what it hands out.
type bigMessage struct {
	left int64
	line int
	pend []byte
	sum  hash.Hash
}

func newBigMessage(size int64) *bigMessage {
	return &bigMessage{left: size, sum: sha256.New(), pend: []byte("Message-ID: <big@inventory.test>\nSubject: big\n\n")}
}

func (b *bigMessage) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if len(b.pend) == 0 {
		b.line++
		b.pend = fmt.Appendf(b.pend, "line %09d of a large message, with some text to fill it up.\n", b.line)
	}
	n := copy(p, b.pend)
	if int64(n) > b.left {
		n = int(b.left)
	}
	b.pend = b.pend[n:]
	b.left -= int64(n)
	b.sum.Write(p[:n])
	return n, nil
}

// heapMeter records the largest heap in use above a baseline.
type heapMeter struct {
	base, peak uint64
}

func newHeapMeter() *heapMeter {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &heapMeter{base: ms.HeapInuse, peak: ms.HeapInuse}
}

func (h *heapMeter) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak = max(h.peak, ms.HeapInuse)
}

func (h *heapMeter) growth() uint64 { return h.peak - h.base }

// meteredWriter samples the heap every few MiB written through it.
type meteredWriter struct {
	w     io.Writer
	h     *heapMeter
	since int
}

func (m *meteredWriter) Write(p []byte) (int, error) {
	m.since += len(p)
	if m.since >= 2<<20 {
		m.since = 0
		m.h.sample()
	}
	return m.w.Write(p)
}

// meteredReader samples the heap every few MiB read through it.
type meteredReader struct {
	r     io.Reader
	h     *heapMeter
	since int
}

func (m *meteredReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.since += n
	if m.since >= 2<<20 {
		m.since = 0
		m.h.sample()
	}
	return n, err
}

// TestLargeMessageMemory delivers and reads a 50 MiB message and checks
// that neither holds it in memory: the heap grows by a few MiB at most.
func TestLargeMessageMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MiB through the database")
	}
	const size = 50 << 20
	const limit = 8 << 20
	p := newStore(t, pgtest.DSN(t), 0)

	msg := newBigMessage(size)
	h := newHeapMeter()
	if err := p.Deliver(context.Background(), alice, storage.Envelope{}, &meteredReader{r: msg, h: h}); err != nil {
		t.Fatal(err)
	}
	h.sample()
	t.Logf("Deliver of %d MiB: heap grew by %.1f MiB", size>>20, float64(h.growth())/(1<<20))
	if h.growth() > limit {
		t.Errorf("Deliver of a %d MiB message grew the heap by %d bytes, more than %d", size>>20, h.growth(), limit)
	}

	md, err := p.Open(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if n := len(md.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	h = newHeapMeter()
	r, err := md.Open(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	n, err := io.Copy(&meteredWriter{w: sum, h: h}, r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	h.sample()
	t.Logf("RETR of %d MiB: heap grew by %.1f MiB", size>>20, float64(h.growth())/(1<<20))
	if n != size || string(sum.Sum(nil)) != string(msg.sum.Sum(nil)) {
		t.Errorf("read %d bytes back, want %d, same sha256: %v", n, size, string(sum.Sum(nil)) == string(msg.sum.Sum(nil)))
	}
	if h.growth() > limit {
		t.Errorf("reading a %d MiB message grew the heap by %d bytes, more than %d", size>>20, h.growth(), limit)
	}
}
