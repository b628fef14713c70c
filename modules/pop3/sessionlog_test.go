package pop3

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// withObservedLogs makes a test server log into an observer, at debug
// level.
func withObservedLogs(logs **observer.ObservedLogs) func(*testServer) {
	return func(ts *testServer) {
		core, observed := observer.New(zapcore.DebugLevel)
		ts.h.logger = zap.New(core)
		*logs = observed
	}
}

// onlyEntry returns the one log entry with the message msg.
func onlyEntry(t *testing.T, logs *observer.ObservedLogs, msg string) observer.LoggedEntry {
	t.Helper()
	entries := logs.FilterMessage(msg).All()
	if len(entries) != 1 {
		t.Fatalf("%d log entries %q, want 1; all entries: %v", len(entries), msg, logs.All())
	}
	return entries[0]
}

// expectFields checks fields of a log entry.
func expectFields(t *testing.T, e observer.LoggedEntry, want map[string]any) {
	t.Helper()
	got := e.ContextMap()
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			t.Errorf("%q: field %s = %v, want %v (all fields: %v)", e.Message, k, got[k], w, got)
		}
	}
}

func TestSessionLogLines(t *testing.T) {
	var logs *observer.ObservedLogs
	ts := newTestServer(t, withObservedLogs(&logs))
	msg := "Subject: log\n\nbody\n"
	ts.store.Add("alice", msg, "second\n")
	c := ts.dial(t)
	local := c.Conn().LocalAddr().String()
	c.Cmd("USER alice")
	c.Cmd("PASS not the password")
	c.Login("alice", "secret pw")
	c.Cmd("RETR 1")
	c.Multi()
	c.Cmd("DELE 2")
	c.Cmd("QUIT")
	waitSessionsGone(t)

	fail := onlyEntry(t, logs, "authentication failed")
	if fail.Level != zapcore.WarnLevel {
		t.Errorf("authentication failure logged at %s, want warn", fail.Level)
	}
	expectFields(t, fail, map[string]any{"remote": local, "remote_ip": "127.0.0.1", "mechanism": "USER", "user": "alice"})

	end := onlyEntry(t, logs, "session ended")
	if end.Level != zapcore.InfoLevel {
		t.Errorf("session end logged at %s, want info", end.Level)
	}
	expectFields(t, end, map[string]any{
		"remote":             local,
		"remote_ip":          "127.0.0.1",
		"user":               "alice",
		"tls":                false,
		"messages_retrieved": 1,
		"bytes_retrieved":    crlfSize([]byte(msg)),
		"messages_deleted":   1,
		"reason":             pop3server.EndQuit,
	})
	for _, k := range []string{"session", "duration", "bytes_sent", "bytes_received"} {
		if _, ok := end.ContextMap()[k]; !ok {
			t.Errorf("session end line lacks %s: %v", k, end.ContextMap())
		}
	}

	var retr bool
	for _, e := range logs.FilterMessage("command").All() {
		if e.ContextMap()["command"] == "RETR" {
			retr = true
			expectFields(t, e, map[string]any{"args": []any{"1"}})
		}
	}
	if !retr {
		t.Error("no debug line for RETR")
	}
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for _, secret := range []string{"secret pw", "not the password"} {
			if strings.Contains(line, secret) {
				t.Errorf("a password is in the log: %q %v", e.Message, e.ContextMap())
			}
		}
	}
}

func TestSessionLogUnauthenticatedEnd(t *testing.T) {
	var logs *observer.ObservedLogs
	ts := newTestServer(t, withObservedLogs(&logs))
	c := ts.dial(t)
	c.Cmd("USER bob")
	c.Conn().Close()
	waitSessionsGone(t)
	end := onlyEntry(t, logs, "session ended")
	if _, ok := end.ContextMap()["user"]; ok {
		t.Errorf("session that never logged in has a user: %v", end.ContextMap())
	}
	expectFields(t, end, map[string]any{"reason": pop3server.EndClientDrop, "messages_retrieved": 0})
}

func TestSessionLogStorageError(t *testing.T) {
	var logs *observer.ObservedLogs
	ts := newTestServer(t, withObservedLogs(&logs))
	ts.store.Add("alice", "a\n")
	ts.store.SetFaults(memstore.Faults{CommitErr: io.ErrUnexpectedEOF})
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	c.Cmd("DELE 1")
	c.Cmd("QUIT")
	waitSessionsGone(t)
	e := onlyEntry(t, logs, "removing deleted messages")
	if e.Level != zapcore.ErrorLevel {
		t.Errorf("storage failure logged at %s, want error", e.Level)
	}
	expectFields(t, e, map[string]any{"backend": otherLabel, "user": "alice", "error": "unexpected EOF"})
	expectFields(t, onlyEntry(t, logs, "session ended"), map[string]any{"reason": pop3server.EndError, "messages_deleted": 0})
}
