package pop3server

import (
	"net"
	"testing"
	"time"
)

// deadlineRecorder records the read deadlines a session sets.
type deadlineRecorder struct {
	net.Conn
	read time.Time
}

func (d *deadlineRecorder) SetReadDeadline(t time.Time) error {
	d.read = t
	return nil
}

func TestLineDeadline(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	rec := &deadlineRecorder{Conn: server}
	cfg := Config{IdleTimeout: 10 * time.Minute, Limits: Limits{AuthTimeout: time.Minute}}
	start := time.Now()
	s := newSession(New(cfg), rec, false, true)

	if err := s.setLineDeadline(); err != nil {
		t.Fatal(err)
	}
	if rec.read != s.guard.authDeadline || rec.read.Before(start.Add(time.Minute)) || rec.read.After(time.Now().Add(time.Minute)) {
		t.Errorf("before login: deadline %v, want the auth deadline %v (connection start + 1m)", rec.read, s.guard.authDeadline)
	}
	s.state = stateTransaction
	now := time.Now()
	if err := s.setLineDeadline(); err != nil {
		t.Fatal(err)
	}
	if rec.read.Before(now.Add(10*time.Minute)) || rec.read.After(time.Now().Add(10*time.Minute)) {
		t.Errorf("after login: deadline %v, want idle_timeout from now", rec.read)
	}

	cfg.Limits.AuthTimeout = 0 // auth_timeout off
	s = newSession(New(cfg), rec, false, true)
	now = time.Now()
	if err := s.setLineDeadline(); err != nil {
		t.Fatal(err)
	}
	if !s.guard.authDeadline.IsZero() || rec.read.Before(now.Add(10*time.Minute)) {
		t.Errorf("auth_timeout off: auth deadline %v, read deadline %v", s.guard.authDeadline, rec.read)
	}
}
