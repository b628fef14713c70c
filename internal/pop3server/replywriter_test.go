package pop3server

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestReplyWriterReleasesItsBufferWhenIdle(t *testing.T) {
	var out bytes.Buffer
	r := newReplyWriter(&out)
	if r.buf != nil {
		t.Fatal("a new writer holds a buffer")
	}
	r.idle()
	if err := r.Flush(); err != nil || out.Len() != 0 {
		t.Fatalf("flushing nothing: %v, %q", err, out.String())
	}

	r.WriteString("+OK one\r\n")
	r.WriteString("+OK two\r\n")
	r.idle() // replies waiting: the buffer stays
	if r.buf == nil || out.Len() != 0 {
		t.Fatalf("idle with replies waiting: buffer %v, wrote %q", r.buf != nil, out.String())
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	r.idle()
	if r.buf != nil {
		t.Error("the buffer was kept after flush and idle")
	}
	if got := out.String(); got != "+OK one\r\n+OK two\r\n" {
		t.Errorf("wrote %q", got)
	}

	// A reply longer than the buffer goes through, and a new destination
	// gets what follows.
	long := strings.Repeat("x", 3*writeBufferSize)
	r.WriteString(long)
	var other bytes.Buffer
	r.setDestination(&other)
	r.WriteString("\r\n")
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.Len()+other.Len() != len("+OK one\r\n+OK two\r\n")+len(long)+2 || !strings.HasSuffix(other.String(), "\r\n") {
		t.Errorf("wrote %d then %d octets", out.Len(), other.Len())
	}
}

// countingWriter records the writes it gets.
type countingWriter struct {
	bytes.Buffer
	writes int
	fail   error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.fail != nil {
		return 0, w.fail
	}
	w.writes++
	return w.Buffer.Write(p)
}

func TestReplyWriterGrowKeepsWhatIsBuffered(t *testing.T) {
	var out countingWriter
	r := newReplyWriter(&out)
	r.WriteString("+OK one\r\n")
	r.grow()
	if cap(r.buf) != pipelineBufferSize || string(r.buf) != "+OK one\r\n" {
		t.Fatalf("after grow: cap %d, %q", cap(r.buf), r.buf)
	}
	msg := bytes.Repeat([]byte("x"), 5000)
	for range 10 {
		if _, err := r.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	if out.writes != 0 {
		t.Errorf("%d writes before the flush, want 0 (50,009 octets fit)", out.writes)
	}
	b := append(r.scratch(maxReplyLine), "+OK two\r\n"...)
	r.write(b)
	big := bytes.Repeat([]byte("y"), 2*pipelineBufferSize)
	if _, err := r.Write(big); err != nil { // flushes, then goes straight through
		t.Fatal(err)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.writes != 2 {
		t.Errorf("%d writes, want 2", out.writes)
	}
	want := "+OK one\r\n" + strings.Repeat(string(msg), 10) + "+OK two\r\n" + string(big)
	if out.String() != want {
		t.Errorf("wrote %d octets, want %d", out.Len(), len(want))
	}
	r.idle()
	if r.buf != nil {
		t.Error("the pipelined buffer was kept after idle")
	}
}

func TestReplyWriterKeepsTheFirstError(t *testing.T) {
	out := countingWriter{fail: io.ErrClosedPipe}
	r := newReplyWriter(&out)
	r.WriteString("+OK\r\n")
	if err := r.Flush(); err != io.ErrClosedPipe {
		t.Fatalf("Flush: %v", err)
	}
	out.fail = nil
	r.WriteString(strings.Repeat("z", 3*writeBufferSize))
	r.write(append(r.scratch(maxReplyLine), "+OK\r\n"...))
	if _, err := r.Write([]byte("x")); err != io.ErrClosedPipe {
		t.Errorf("Write after a failure: %v", err)
	}
	if err := r.Flush(); err != io.ErrClosedPipe || out.Len() != 0 {
		t.Errorf("Flush after a failure: %v, wrote %d octets", err, out.Len())
	}
}
