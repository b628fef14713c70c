package netconn

import (
	"net"
	"testing"
	"time"
)

// deadlineLog is a net.Conn that records the deadlines set on it.
type deadlineLog struct {
	net.Conn // nil: only the methods below are used
	reads    []time.Time
	writes   []time.Time
	written  int
}

func (r *deadlineLog) SetReadDeadline(t time.Time) error {
	r.reads = append(r.reads, t)
	return nil
}

func (r *deadlineLog) SetWriteDeadline(t time.Time) error {
	r.writes = append(r.writes, t)
	return nil
}

func (r *deadlineLog) SetDeadline(t time.Time) error {
	r.reads = append(r.reads, t)
	r.writes = append(r.writes, t)
	return nil
}

func (r *deadlineLog) Write(p []byte) (int, error) {
	r.written += len(p)
	return len(p), nil
}

func TestDeadlineConnReadDeadlines(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		steps func(c net.Conn)
		want  []time.Time // deadlines that reached the connection
	}{
		{"moving later by less than the slack is skipped", func(c net.Conn) {
			_ = c.SetReadDeadline(base)
			_ = c.SetReadDeadline(base.Add(10 * time.Millisecond))
			_ = c.SetReadDeadline(base.Add(deadlineSlack - time.Nanosecond))
		}, []time.Time{base}},
		{"moving later by the slack applies", func(c net.Conn) {
			_ = c.SetReadDeadline(base)
			_ = c.SetReadDeadline(base.Add(deadlineSlack))
		}, []time.Time{base, base.Add(deadlineSlack)}},
		{"an earlier deadline always applies", func(c net.Conn) {
			_ = c.SetReadDeadline(base)
			_ = c.SetReadDeadline(base.Add(-time.Millisecond))
		}, []time.Time{base, base.Add(-time.Millisecond)}},
		{"clearing applies, and so does the next deadline", func(c net.Conn) {
			_ = c.SetReadDeadline(base)
			_ = c.SetReadDeadline(time.Time{})
			_ = c.SetReadDeadline(base)
		}, []time.Time{base, {}, base}},
		{"SetDeadline is exact and resets what is in force", func(c net.Conn) {
			_ = c.SetReadDeadline(base)
			_ = c.SetDeadline(base.Add(time.Millisecond))
			_ = c.SetDeadline(time.Time{})
			_ = c.SetReadDeadline(base.Add(2 * time.Millisecond))
		}, []time.Time{base, base.Add(time.Millisecond), {}, base.Add(2 * time.Millisecond)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &deadlineLog{}
			tt.steps(WithDeadlines(rec, time.Minute))
			if !equalTimes(rec.reads, tt.want) {
				t.Errorf("read deadlines %v, want %v", rec.reads, tt.want)
			}
		})
	}
}

func TestDeadlineConnWriteDeadlines(t *testing.T) {
	rec := &deadlineLog{}
	c := WithDeadlines(rec, time.Minute)
	start := time.Now()
	for range 3 {
		if _, err := c.Write([]byte("+OK\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.writes) != 1 || rec.writes[0].Before(start.Add(time.Minute)) {
		t.Fatalf("write deadlines %v, want one, a minute from the first write", rec.writes)
	}
	// An explicit earlier deadline bounds the next write.
	early := time.Now().Add(time.Second)
	_ = c.SetWriteDeadline(early)
	_, _ = c.Write([]byte("x"))
	if got := rec.writes[len(rec.writes)-1]; !got.Equal(early) {
		t.Errorf("write deadline %v after SetWriteDeadline(%v)", got, early)
	}
	// Cleared: writes get their own deadline again.
	_ = c.SetWriteDeadline(time.Time{})
	_, _ = c.Write([]byte("x"))
	if got := rec.writes[len(rec.writes)-1]; got.Before(time.Now().Add(time.Minute - deadlineSlack)) {
		t.Errorf("write deadline %v after clearing, want about a minute from now", got)
	}
	if rec.written != 5*3+2 {
		t.Errorf("%d octets written, want 17", rec.written)
	}
}

func TestWithDeadlinesNoTimeout(t *testing.T) {
	rec := &deadlineLog{}
	c := WithDeadlines(rec, 0)
	_, _ = c.Write([]byte("x"))
	if len(rec.writes) != 0 {
		t.Errorf("write deadlines %v with no timeout, want none", rec.writes)
	}
}

// TestDeadlineConnBound: while bounded, no read or write deadline is later
// than the bound, whatever is asked; the bound applies at once to
// deadlines in force, and lifting it lets later deadlines through again.
func TestDeadlineConnBound(t *testing.T) {
	rec := &deadlineLog{}
	c := WithDeadlines(rec, time.Minute)
	later := time.Now().Add(time.Hour)
	_ = c.SetReadDeadline(later)
	_, _ = c.Write([]byte("x"))
	limit := time.Now().Add(time.Second)
	if err := c.Bound(limit); err != nil {
		t.Fatal(err)
	}
	if got := rec.reads[len(rec.reads)-1]; !got.Equal(limit) {
		t.Errorf("read deadline in force %v, want it moved to the bound %v", got, limit)
	}
	if got := rec.writes[len(rec.writes)-1]; !got.Equal(limit) {
		t.Errorf("write deadline in force %v, want it moved to the bound %v", got, limit)
	}
	_ = c.SetReadDeadline(later)
	_ = c.SetReadDeadline(time.Time{})
	_ = c.SetDeadline(later)
	_ = c.SetWriteDeadline(time.Time{})
	_, _ = c.Write([]byte("x"))
	for i, d := range rec.reads[2:] {
		if d.IsZero() || d.After(limit) {
			t.Errorf("read deadline %d while bounded: %v, want at most %v", i, d, limit)
		}
	}
	for i, d := range rec.writes[2:] {
		if d.IsZero() || d.After(limit) {
			t.Errorf("write deadline %d while bounded: %v, want at most %v", i, d, limit)
		}
	}
	_ = c.Bound(time.Time{})
	_ = c.SetReadDeadline(later)
	if got := rec.reads[len(rec.reads)-1]; !got.Equal(later) {
		t.Errorf("read deadline %v after lifting the bound, want %v", got, later)
	}
}

func equalTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// TestShortTimeoutSlack: with a short idle timeout (tests use 300ms) the
// read deadline follows the client's activity: the slack is at most a
// tenth of the timeout, so a command 100ms later moves it.
func TestShortTimeoutSlack(t *testing.T) {
	rec := &deadlineLog{}
	c := WithDeadlines(rec, 300*time.Millisecond)
	base := time.Now()
	_ = c.SetReadDeadline(base.Add(300 * time.Millisecond))
	_ = c.SetReadDeadline(base.Add(400 * time.Millisecond))
	if len(rec.reads) != 2 || !rec.reads[1].Equal(base.Add(400*time.Millisecond)) {
		t.Errorf("read deadlines set %v; want the second one (100ms later) applied", rec.reads)
	}
	if got := slackFor(10 * time.Minute); got != deadlineSlack {
		t.Errorf("slack of a 10m timeout %v, want %v", got, deadlineSlack)
	}
}
