//go:build linux

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// adminTries bounds the retries of an admin request whose connection is
// refused: a reload replaces the admin endpoint's listener.
const adminTries = 100

// adminAddr is the server's admin endpoint.
func (s *server) adminAddr() string {
	return "127.0.0.1:" + strconv.Itoa(s.adminPort)
}

// adminRequest sends one request to the server's admin endpoint and returns
// the status and body.
func (s *server) adminRequest(t *testing.T, method, path string) (int, []byte) {
	t.Helper()
	client := &http.Client{Timeout: ioTimeout}
	for try := 1; ; try++ {
		req, err := http.NewRequest(method, "http://"+s.adminAddr()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) && try < adminTries {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: reading the answer: %v", method, path, err)
		}
		return resp.StatusCode, body
	}
}

// scrape reads the admin endpoint's /metrics and returns every caddy_pop3_
// sample keyed like `caddy_pop3_commands_total{command="RETR",result="ok"}`;
// a histogram gives its sample count under `<name>_count{...}`.
func (s *server) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := s.adminRequest(t, http.MethodGet, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		if !strings.HasPrefix(name, "caddy_pop3_") {
			continue
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help text", name)
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			suffix := ""
			if len(labels) > 0 {
				suffix = "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name+suffix] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name+suffix] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count"+suffix] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// scrapeUntil scrapes until every sample in want has its value, and
// returns that scrape. A session is counted as ended just after its last
// answer, so a test that has just read the answer to QUIT waits here.
func (s *server) scrapeUntil(t *testing.T, want map[string]float64) map[string]float64 {
	t.Helper()
	var got map[string]float64
	for range 200 {
		got = s.scrape(t)
		done := true
		for k, w := range want {
			done = done && got[k] == w
		}
		if done {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s stayed at %v, want %v", k, got[k], w)
		}
	}
	t.FailNow()
	return nil
}

// expectMoved checks how far samples moved between two scrapes.
func expectMoved(t *testing.T, before, after map[string]float64, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if d := after[k] - before[k]; d != w {
			t.Errorf("%s moved by %v (from %v to %v), want %v", k, d, before[k], after[k], w)
		}
	}
}

// logLines returns the server's JSON log lines with the message msg.
func (s *server) logLines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s.out.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		if entry["msg"] == msg {
			out = append(out, entry)
		}
	}
	return out
}

// sessionView is an entry of GET /pop3/sessions.
type sessionView struct {
	ID                uint64 `json:"id"`
	Remote            string `json:"remote"`
	User              string `json:"user"`
	State             string `json:"state"`
	TLS               bool   `json:"tls"`
	Started           string `json:"started"`
	BytesReceived     int64  `json:"bytes_received"`
	BytesSent         int64  `json:"bytes_sent"`
	MessagesRetrieved int64  `json:"messages_retrieved"`
	Draining          bool   `json:"draining"`
}

// sessions lists the live sessions through the admin API.
func (s *server) sessions(t *testing.T) []sessionView {
	t.Helper()
	code, body := s.adminRequest(t, http.MethodGet, "/pop3/sessions")
	var views []sessionView
	if err := json.Unmarshal(body, &views); code != http.StatusOK || err != nil {
		t.Fatalf("GET /pop3/sessions: status %d, %v: %s", code, err, body)
	}
	return views
}

// sessionOf returns the listed session of the client connection p.
func (s *server) sessionOf(t *testing.T, p *pop3test.Client) sessionView {
	t.Helper()
	local := p.Conn().LocalAddr().String()
	views := s.sessions(t)
	for _, v := range views {
		if v.Remote == local {
			return v
		}
	}
	t.Fatalf("GET /pop3/sessions does not list the session from %s: %+v", local, views)
	return sessionView{}
}

// retrSize sends RETR n, reads the message and returns the size the +OK
// line announced.
func retrSize(t *testing.T, p *pop3test.Client, n int) float64 {
	t.Helper()
	r := p.Cmd("RETR " + strconv.Itoa(n))
	var size float64
	if _, err := fmt.Sscanf(r, "+OK %g octets", &size); err != nil {
		t.Fatalf("RETR %d: %q", n, r)
	}
	p.CopyMulti(io.Discard)
	return size
}

func TestMetricsAfterScriptedSession(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	deliverFixture(t, s.Maildir(testUser))
	before := s.scrapeUntil(t, map[string]float64{"caddy_pop3_sessions_active": 0})

	p := dialPOP3(t, s.Addr)
	if r := p.LoginReply(testUser, "not "+testPassword); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Fatalf("wrong password: %q", r)
	}
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login: %q", r)
	}
	p.Cmd("STAT")
	size := retrSize(t, p, 1)
	p.Cmd("DELE 2")
	p.Cmd("XYZZ")
	if r := p.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %q", r)
	}
	after := s.scrapeUntil(t, map[string]float64{
		`caddy_pop3_sessions_ended_total{reason="quit"}`: before[`caddy_pop3_sessions_ended_total{reason="quit"}`] + 1,
		`caddy_pop3_sessions_active`:                     0,
	})
	expectMoved(t, before, after, map[string]float64{
		`caddy_pop3_sessions_started_total`:                                 1,
		`caddy_pop3_sessions_active`:                                        0,
		`caddy_pop3_auth_attempts_total{mechanism="USER",result="failure"}`: 1,
		`caddy_pop3_auth_attempts_total{mechanism="USER",result="success"}`: 1,
		`caddy_pop3_commands_total{command="USER",result="ok"}`:             2,
		`caddy_pop3_commands_total{command="PASS",result="err"}`:            1,
		`caddy_pop3_commands_total{command="PASS",result="ok"}`:             1,
		`caddy_pop3_commands_total{command="RETR",result="ok"}`:             1,
		`caddy_pop3_commands_total{command="DELE",result="ok"}`:             1,
		`caddy_pop3_commands_total{command="unknown",result="err"}`:         1,
		`caddy_pop3_commands_total{command="QUIT",result="ok"}`:             1,
		`caddy_pop3_command_duration_seconds_count{command="login"}`:        1,
		`caddy_pop3_command_duration_seconds_count{command="RETR"}`:         1,
		`caddy_pop3_command_duration_seconds_count{command="QUIT"}`:         1,
		`caddy_pop3_retrieved_messages_total`:                               1,
		`caddy_pop3_retrieved_bytes_total`:                                  size,
		`caddy_pop3_deleted_messages_total`:                                 1,
		`caddy_pop3_storage_errors_total{backend="maildir"}`:                0,
	})
	if after[`caddy_pop3_sent_bytes_total`]-before[`caddy_pop3_sent_bytes_total`] < size {
		t.Errorf("sent_bytes_total moved less than the message RETR sent")
	}
	if len(uidsOnDisk(t, s.Maildir(testUser))) != len(fixture)-1 {
		t.Errorf("DELE 2 + QUIT did not remove one message")
	}

	// The log: a warning fit for fail2ban, and one line for the session.
	var warned bool
	for _, e := range s.logLines(t, "authentication failed") {
		if e["level"] == "warn" && e["remote_ip"] == "127.0.0.1" && e["user"] == testUser && e["remote"] == p.Conn().LocalAddr().String() {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning with remote_ip for the failed login; log:\n%s", s.out.String())
	}
	var ended bool
	for _, e := range s.logLines(t, "session ended") {
		if e["remote"] != p.Conn().LocalAddr().String() {
			continue
		}
		ended = true
		for k, want := range map[string]any{
			"level": "info", "logger": "layer4.handlers.pop3", "user": testUser, "tls": false, "remote_ip": "127.0.0.1",
			"messages_retrieved": 1.0, "bytes_retrieved": size, "messages_deleted": 1.0, "reason": "quit",
		} {
			if e[k] != want {
				t.Errorf("session end log: %s = %v, want %v", k, e[k], want)
			}
		}
	}
	if !ended {
		t.Errorf("no session end log line; log:\n%s", s.out.String())
	}
	if strings.Contains(s.out.String(), testPassword) {
		t.Error("the password is in the server's log")
	}
}

func TestAdminListAndEndSession(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	deliverFixture(t, s.Maildir(testUser))
	before := s.scrapeUntil(t, map[string]float64{"caddy_pop3_sessions_active": 0})

	p := dialPOP3(t, s.Addr)
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login: %q", r)
	}
	retrSize(t, p, 1)
	p.Cmd("DELE 1")
	v := s.sessionOf(t, p)
	if v.User != testUser || v.State != "transaction" || v.TLS || v.MessagesRetrieved != 1 || v.BytesSent == 0 || v.BytesReceived == 0 || v.Draining {
		t.Errorf("listed session: %+v", v)
	}
	if _, err := time.Parse(time.RFC3339Nano, v.Started); err != nil {
		t.Errorf("started %q: %v", v.Started, err)
	}

	path := "/pop3/sessions/" + strconv.FormatUint(v.ID, 10)
	code, body := s.adminRequest(t, http.MethodDelete, path)
	if code != http.StatusOK || !strings.Contains(string(body), `"ended":true`) {
		t.Errorf("DELETE %s: %d %s", path, code, body)
	}
	if r := p.ReadLine(); !strings.HasPrefix(r, "-ERR [SYS/TEMP] Session ended by the administrator") {
		t.Errorf("client told %q, want -ERR [SYS/TEMP] Session ended by the administrator", r)
	}
	assertUIDsOnDisk(t, s.Maildir(testUser), fixtureUIDs())
	if code, _ := s.adminRequest(t, http.MethodGet, path); code != http.StatusNotFound {
		t.Errorf("GET %s after the end: %d, want 404", path, code)
	}
	after := s.scrape(t)
	expectMoved(t, before, after, map[string]float64{
		`caddy_pop3_sessions_ended_total{reason="admin"}`: 1,
		`caddy_pop3_deleted_messages_total`:               0,
		`caddy_pop3_sessions_active`:                      0,
	})

	// The maildrop was unlocked: the user can log in again.
	p = dialPOP3(t, s.Addr)
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Errorf("login after the admin ended the session: %q", r)
	}
}

func TestReloadKeepsMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	deliverFixture(t, s.Maildir(testUser))

	old := dialPOP3(t, s.Addr)
	if r := old.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login: %q", r)
	}
	old.Cmd("STAT")
	before := s.scrape(t)

	// --force: the config is the same, and a reload must happen anyway.
	caddyRun(t, "reload", "--config", s.config, "--adapter", "caddyfile", "--address", s.adminAddr(), "--force")

	reloaded := s.scrape(t)
	for _, k := range []string{`caddy_pop3_sessions_started_total`, `caddy_pop3_commands_total{command="STAT",result="ok"}`} {
		if reloaded[k] < before[k] || reloaded[k] == 0 {
			t.Errorf("%s went from %v to %v across the reload", k, before[k], reloaded[k])
		}
	}
	if reloaded[`caddy_pop3_sessions_active`] != 1 {
		t.Errorf("sessions_active after the reload: %v, want 1 (the session of the old config)", reloaded[`caddy_pop3_sessions_active`])
	}
	if v := s.sessionOf(t, old); !v.Draining || v.User != testUser {
		t.Errorf("session of the replaced config: %+v, want draining", v)
	}

	// The old session goes on; a new one is counted by the same counters.
	if r := old.Cmd("STAT"); !strings.HasPrefix(r, "+OK") {
		t.Errorf("STAT after the reload: %q", r)
	}
	old.Cmd("QUIT")
	p := dialPOP3(t, s.Addr)
	p.Cmd("QUIT")
	after := s.scrapeUntil(t, map[string]float64{
		`caddy_pop3_sessions_ended_total{reason="quit"}`: reloaded[`caddy_pop3_sessions_ended_total{reason="quit"}`] + 2,
		`caddy_pop3_sessions_active`:                     0,
	})
	expectMoved(t, reloaded, after, map[string]float64{
		`caddy_pop3_sessions_started_total`:                     1,
		`caddy_pop3_commands_total{command="STAT",result="ok"}`: 1,
	})
	if out := s.out.String(); strings.Contains(out, "duplicate metrics collector registration") || strings.Contains(out, "previously registered") {
		t.Errorf("duplicate metrics registration; log:\n%s", out)
	}
}

func TestAdminModuleListed(t *testing.T) {
	t.Parallel()
	if out := caddyRun(t, "list-modules"); !strings.Contains(out, "admin.api.pop3\n") {
		t.Errorf("caddy list-modules does not list admin.api.pop3:\n%s", out)
	}
}
