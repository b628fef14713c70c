package pop3server

import (
	"bytes"
	"strings"
	"testing"
)

func TestReplyWriterReleasesItsBufferWhenIdle(t *testing.T) {
	var out bytes.Buffer
	r := newReplyWriter(&out)
	if r.w != nil {
		t.Fatal("a new writer holds a buffer")
	}
	r.idle()
	if err := r.Flush(); err != nil || out.Len() != 0 {
		t.Fatalf("flushing nothing: %v, %q", err, out.String())
	}

	r.WriteString("+OK one\r\n")
	r.WriteString("+OK two\r\n")
	r.idle() // replies waiting: the buffer stays
	if r.w == nil || out.Len() != 0 {
		t.Fatalf("idle with replies waiting: buffer %v, wrote %q", r.w != nil, out.String())
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	r.idle()
	if r.w != nil {
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
