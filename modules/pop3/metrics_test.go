package pop3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
)

// metricValues gathers the handler's metrics from a registry they were
// registered in, keyed like `caddy_pop3_commands_total{command="RETR",result="ok"}`;
// a histogram gives its sample count under `<name>_count{...}`.
func metricValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"=\""+l.GetValue()+"\"")
			}
			sort.Strings(labels)
			suffix := ""
			if len(labels) > 0 {
				suffix = "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[f.GetName()+suffix] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[f.GetName()+suffix] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[f.GetName()+"_count"+suffix] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// metricsRecorder measures how the metrics moved during a test.
type metricsRecorder struct {
	reg    *prometheus.Registry
	before map[string]float64
}

func recordMetrics(t *testing.T) *metricsRecorder {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := registerMetrics(reg); err != nil {
		t.Fatal(err)
	}
	return &metricsRecorder{reg: reg, before: metricValues(t, reg)}
}

// deltas returns every metric that changed, and by how much.
func (m *metricsRecorder) deltas(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for k, v := range metricValues(t, m.reg) {
		if d := v - m.before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// expectDeltas checks that the metrics in want moved by exactly that much.
func expectDeltas(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s moved by %v, want %v", k, got[k], w)
		}
	}
}

// waitSessionsGone waits until every session has ended, so its metrics
// and log line are complete.
func waitSessionsGone(t *testing.T) {
	t.Helper()
	if !pop3server.Live.Drain(10 * time.Second) {
		t.Fatal("sessions did not end")
	}
}

// clientCounter counts the octets a test client sends and receives.
type clientCounter struct {
	net.Conn
	in, out atomic.Int64
}

func (c *clientCounter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *clientCounter) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// dialCounted is dial with a client that counts its octets.
func (ts *testServer) dialCounted(t *testing.T) (*pop3test.Client, *clientCounter) {
	t.Helper()
	c := ts.dial(t)
	cc := &clientCounter{Conn: c.Conn()}
	// The greeting was read through the plain connection; count it.
	cc.in.Add(int64(len("+OK " + ts.h.Hostname + " POP3 server ready\r\n")))
	c.SetConn(cc)
	return c, cc
}

func TestMetricsScriptedSession(t *testing.T) {
	ts := newTestServer(t)
	msg1, msg2 := "Subject: one\n\nhello\n", "Subject: two\n\nbye\n"
	ts.store.Add("alice", msg1, msg2)
	rec := recordMetrics(t)

	c, cc := ts.dialCounted(t)
	c.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "wrong PASS", c.Cmd("PASS wrong"), "-ERR [AUTH]")
	c.Login("alice", "secret pw")
	pop3test.ExpectPrefix(t, "STAT", c.Cmd("STAT"), "+OK 2 ")
	pop3test.ExpectPrefix(t, "RETR 1", c.Cmd("RETR 1"), "+OK")
	c.Multi()
	pop3test.ExpectPrefix(t, "RETR 9", c.Cmd("RETR 9"), "-ERR")
	pop3test.ExpectPrefix(t, "TOP 2 0", c.Cmd("TOP 2 0"), "+OK")
	c.Multi()
	pop3test.ExpectPrefix(t, "DELE 2", c.Cmd("DELE 2"), "+OK")
	pop3test.ExpectPrefix(t, "XYZ", c.Cmd("XYZ"), "-ERR Unknown command")
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
	if _, err := io.Copy(io.Discard, c.Reader()); err != nil {
		t.Fatal(err)
	}
	waitSessionsGone(t)

	got := rec.deltas(t)
	expectDeltas(t, got, map[string]float64{
		`caddy_pop3_sessions_started_total`:                                 1,
		`caddy_pop3_sessions_ended_total{reason="quit"}`:                    1,
		`caddy_pop3_auth_attempts_total{mechanism="USER",result="failure"}`: 1,
		`caddy_pop3_auth_attempts_total{mechanism="USER",result="success"}`: 1,
		`caddy_pop3_commands_total{command="USER",result="ok"}`:             2,
		`caddy_pop3_commands_total{command="PASS",result="err"}`:            1,
		`caddy_pop3_commands_total{command="PASS",result="ok"}`:             1,
		`caddy_pop3_commands_total{command="STAT",result="ok"}`:             1,
		`caddy_pop3_commands_total{command="RETR",result="ok"}`:             1,
		`caddy_pop3_commands_total{command="RETR",result="err"}`:            1,
		`caddy_pop3_commands_total{command="TOP",result="ok"}`:              1,
		`caddy_pop3_commands_total{command="DELE",result="ok"}`:             1,
		`caddy_pop3_commands_total{command="unknown",result="err"}`:         1,
		`caddy_pop3_commands_total{command="QUIT",result="ok"}`:             1,
		`caddy_pop3_command_duration_seconds_count{command="login"}`:        1,
		`caddy_pop3_command_duration_seconds_count{command="RETR"}`:         2,
		`caddy_pop3_command_duration_seconds_count{command="TOP"}`:          1,
		`caddy_pop3_command_duration_seconds_count{command="QUIT"}`:         1,
		`caddy_pop3_retrieved_messages_total`:                               1,
		`caddy_pop3_retrieved_bytes_total`:                                  float64(crlfSize([]byte(msg1))),
		`caddy_pop3_deleted_messages_total`:                                 1,
		`caddy_pop3_received_bytes_total`:                                   float64(cc.out.Load()),
		`caddy_pop3_sent_bytes_total`:                                       float64(cc.in.Load()),
	})
	for k := range got {
		if strings.HasPrefix(k, "caddy_pop3_sessions_active") || strings.HasPrefix(k, "caddy_pop3_storage_errors_total") || strings.HasPrefix(k, "caddy_pop3_lockouts_total") {
			t.Errorf("%s moved by %v, want no change", k, got[k])
		}
	}
	if ts.store.Count("alice") != 1 {
		t.Errorf("%d messages left, want 1", ts.store.Count("alice"))
	}
}

func TestMetricsSessionsActive(t *testing.T) {
	ts := newTestServer(t)
	rec := recordMetrics(t)
	a, b := ts.dial(t), ts.dial(t)
	// Each session answered its greeting, so both are counted.
	if got := rec.deltas(t)[`caddy_pop3_sessions_active`]; got != 2 {
		t.Errorf("sessions_active moved by %v with two sessions open, want 2", got)
	}
	a.Cmd("QUIT")
	b.Cmd("QUIT")
	waitSessionsGone(t)
	if got := rec.deltas(t)[`caddy_pop3_sessions_active`]; got != 0 {
		t.Errorf("sessions_active moved by %v after both sessions ended, want 0", got)
	}
}

func TestMetricsEndReasons(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
		setup  func(ts *testServer)
		run    func(t *testing.T, ts *testServer, c *pop3test.Client)
	}{
		{
			name: "quit before login", reason: pop3server.EndQuit,
			run: func(t *testing.T, _ *testServer, c *pop3test.Client) { c.Cmd("QUIT") },
		},
		{
			name: "client drop", reason: pop3server.EndClientDrop,
			run: func(t *testing.T, _ *testServer, c *pop3test.Client) {
				c.Login("alice", "secret pw")
				c.Conn().Close()
			},
		},
		{
			name: "too many errors", reason: pop3server.EndTooManyErrors,
			run: func(t *testing.T, _ *testServer, c *pop3test.Client) {
				for range pop3server.DefaultMaxErrors {
					c.Cmd("BOGUS")
				}
			},
		},
		{
			name: "idle timeout", reason: pop3server.EndTimeout,
			setup: func(ts *testServer) { ts.h.IdleTimeout = caddy.Duration(50 * time.Millisecond) },
			run: func(t *testing.T, _ *testServer, c *pop3test.Client) {
				pop3test.ExpectPrefix(t, "timeout", c.ReadLine(), "-ERR [SYS/TEMP] Disconnected for inactivity")
			},
		},
		{
			name: "admin", reason: pop3server.EndAdmin,
			run: func(t *testing.T, ts *testServer, c *pop3test.Client) {
				c.Login("alice", "secret pw")
				for _, s := range pop3server.Live.Of(ts.h) {
					s.Shutdown(pop3server.ReasonAdmin)
				}
				pop3test.ExpectPrefix(t, "admin", c.ReadLine(), "-ERR [SYS/TEMP] Session ended by the administrator")
			},
		},
		{
			name: "reload", reason: pop3server.EndReload,
			setup: func(ts *testServer) { ts.h.GracePeriod = caddy.Duration(time.Millisecond) },
			run: func(t *testing.T, ts *testServer, c *pop3test.Client) {
				if err := ts.h.Cleanup(); err != nil {
					t.Fatal(err)
				}
				pop3test.ExpectPrefix(t, "reload", c.ReadLine(), "-ERR [SYS/TEMP] Server configuration changed")
			},
		},
		{
			name: "commit failure", reason: pop3server.EndError,
			setup: func(ts *testServer) { ts.store.SetFaults(memstore.Faults{CommitErr: io.ErrUnexpectedEOF}) },
			run: func(t *testing.T, _ *testServer, c *pop3test.Client) {
				c.Login("alice", "secret pw")
				c.Cmd("DELE 1")
				pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "-ERR [SYS/TEMP]")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(ts *testServer) {
				if tc.setup != nil {
					tc.setup(ts)
				}
			})
			ts.store.Add("alice", "a\n")
			rec := recordMetrics(t)
			c := ts.dial(t)
			tc.run(t, ts, c)
			waitSessionsGone(t)
			got := rec.deltas(t)
			for _, r := range pop3server.EndReasons {
				want := 0.0
				if r == tc.reason {
					want = 1
				}
				if k := `caddy_pop3_sessions_ended_total{reason="` + r + `"}`; got[k] != want {
					t.Errorf("%s moved by %v, want %v", k, got[k], want)
				}
			}
		})
	}
}

// brokenReadStore is a memStore whose messages fail after their first
// prefix bytes, as a disk error in the middle of a file would.
type brokenReadStore struct {
	*memstore.Store
	prefix int
}

var errBrokenRead = errors.New("input/output error")

func (b brokenReadStore) Open(ctx context.Context, user string) (storage.Maildrop, error) {
	d, err := b.Store.Open(ctx, user)
	if err != nil {
		return nil, err
	}
	return brokenReadDrop{d, b.prefix}, nil
}

type brokenReadDrop struct {
	storage.Maildrop
	prefix int
}

func (d brokenReadDrop) Open(context.Context, int) (io.ReadCloser, error) {
	head := "Subject: x\n\n" + strings.Repeat("body line\n", d.prefix/10)
	return io.NopCloser(io.MultiReader(strings.NewReader(head), iotest.ErrReader(errBrokenRead))), nil
}

func TestMetricsStorageErrors(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "a\n")
	ts.store.SetFaults(memstore.Faults{CommitErr: io.ErrUnexpectedEOF})
	rec := recordMetrics(t)
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	c.Cmd("DELE 1")
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "-ERR [SYS/TEMP]")
	waitSessionsGone(t)
	expectDeltas(t, rec.deltas(t), map[string]float64{
		`caddy_pop3_storage_errors_total{backend="other"}`: 1,
		`caddy_pop3_deleted_messages_total`:                0,
	})
}

// TestMetricsStorageReadErrorBeforeSending: a message that cannot be read
// before anything of it was sent gets -ERR [SYS/TEMP], and the session
// goes on.
func TestMetricsStorageReadErrorBeforeSending(t *testing.T) {
	ts := newTestServer(t, func(ts *testServer) { ts.h.store = brokenReadStore{ts.store, 0} })
	ts.store.Add("alice", "Subject: x\n\nbody\n")
	rec := recordMetrics(t)
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	pop3test.ExpectPrefix(t, "RETR", c.Cmd("RETR 1"), "-ERR [SYS/TEMP]")
	pop3test.ExpectPrefix(t, "STAT", c.Cmd("STAT"), "+OK 1 ")
	pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
	waitSessionsGone(t)
	expectDeltas(t, rec.deltas(t), map[string]float64{
		`caddy_pop3_storage_errors_total{backend="other"}`: 1,
		`caddy_pop3_sessions_ended_total{reason="quit"}`:   1,
		`caddy_pop3_retrieved_messages_total`:              0,
	})
}

// TestMetricsStorageReadError: a read error in the middle of a message
// that is already on its way cannot be told in the protocol; the session
// ends without the terminating dot.
func TestMetricsStorageReadError(t *testing.T) {
	ts := newTestServer(t, func(ts *testServer) { ts.h.store = brokenReadStore{ts.store, 4 * pop3server.ReadChunkSize} })
	ts.store.Add("alice", "Subject: x\n\nbody\n")
	rec := recordMetrics(t)
	c := ts.dial(t)
	c.Login("alice", "secret pw")
	pop3test.ExpectPrefix(t, "RETR", c.Cmd("RETR 1"), "+OK")
	// The session ends in the middle of the message: no terminating dot.
	rest, _ := io.ReadAll(c.Reader())
	if strings.HasSuffix(string(rest), "\r\n.\r\n") {
		t.Errorf("a message that could not be read was terminated as if complete: %q", rest)
	}
	waitSessionsGone(t)
	expectDeltas(t, rec.deltas(t), map[string]float64{
		`caddy_pop3_storage_errors_total{backend="other"}`: 1,
		`caddy_pop3_sessions_ended_total{reason="error"}`:  1,
		`caddy_pop3_retrieved_messages_total`:              0,
	})
	if n := ts.store.Count("alice"); n != 1 {
		t.Errorf("%d messages after a failed RETR, want 1", n)
	}
}

func TestRegisterMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	for i := range 2 {
		// Two pop3 handlers in one config register the same collectors.
		if err := registerMetrics(reg); err != nil {
			t.Fatalf("registration %d: %v", i+1, err)
		}
	}
	// A reload registers them in the new config's registry.
	if err := registerMetrics(prometheus.NewPedanticRegistry()); err != nil {
		t.Fatalf("registering in a second registry: %v", err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if !strings.HasPrefix(f.GetName(), "caddy_pop3_") {
			t.Errorf("metric %s lacks the caddy_pop3_ prefix", f.GetName())
		}
		if f.GetHelp() == "" {
			t.Errorf("metric %s has no help text", f.GetName())
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "reason", "mechanism", "result", "command", "backend":
				default:
					t.Errorf("metric %s has label %s", f.GetName(), l.GetName())
				}
			}
		}
	}
	for _, want := range []string{
		"caddy_pop3_sessions_active", "caddy_pop3_sessions_started_total", "caddy_pop3_sessions_ended_total",
		"caddy_pop3_commands_total", "caddy_pop3_command_duration_seconds",
	} {
		if !names[want] {
			t.Errorf("%s is not exposed before any session", want)
		}
	}

	// Another collector under one of these names is an error.
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "caddy_pop3_sessions_active", Help: "clash"})
	other := prometheus.NewPedanticRegistry()
	other.MustRegister(clash)
	if err := registerMetrics(other); err == nil {
		t.Error("registering where another collector has the same name: no error")
	}
}

func TestObserveAuthMechanismLabel(t *testing.T) {
	for _, tc := range []struct{ mechanism, label string }{
		{"USER", "USER"},
		{"plain", "PLAIN"},
		{"X-SOMETHING-\x00", otherLabel},
	} {
		before := testutil.ToFloat64(metrics.authAttempts.WithLabelValues(tc.label, pop3server.AuthFailure))
		observeAuth(tc.mechanism, pop3server.AuthFailure)
		if got := testutil.ToFloat64(metrics.authAttempts.WithLabelValues(tc.label, pop3server.AuthFailure)) - before; got != 1 {
			t.Errorf("mechanism %q: label %q moved by %v, want 1", tc.mechanism, tc.label, got)
		}
	}
}

// namedStore is a storage module for storageBackend.
type namedStore struct{ *memstore.Store }

func (namedStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "pop3.storage.example", New: func() caddy.Module { return namedStore{} }}
}

func TestStorageBackendLabel(t *testing.T) {
	if got := storageBackend(namedStore{memstore.New()}); got != "example" {
		t.Errorf("backend of pop3.storage.example: %q", got)
	}
	if got := storageBackend(memstore.New()); got != otherLabel {
		t.Errorf("backend of a store that is not a module: %q", got)
	}
}

func TestMetricsSASL(t *testing.T) {
	var logs *observer.ObservedLogs
	ts := newTestServer(t, withObservedLogs(&logs))
	rec := recordMetrics(t)
	c := ts.dial(t)
	pop3test.ExpectPrefix(t, "AUTH PLAIN wrong", c.Cmd("AUTH PLAIN "+b64("\x00alice\x00nope")), "-ERR [AUTH]")
	pop3test.ExpectPrefix(t, "AUTH LOGIN", c.Cmd("AUTH LOGIN"), "+ ")
	pop3test.ExpectPrefix(t, "user", c.Cmd(b64("alice")), "+ ")
	pop3test.ExpectPrefix(t, "password", c.Cmd(b64("secret pw")), "+OK")
	c.Cmd("QUIT")
	waitSessionsGone(t)
	expectDeltas(t, rec.deltas(t), map[string]float64{
		`caddy_pop3_auth_attempts_total{mechanism="PLAIN",result="failure"}`: 1,
		`caddy_pop3_auth_attempts_total{mechanism="LOGIN",result="success"}`: 1,
		`caddy_pop3_commands_total{command="AUTH",result="err"}`:             1,
		`caddy_pop3_commands_total{command="AUTH",result="ok"}`:              1,
		`caddy_pop3_sessions_ended_total{reason="quit"}`:                     1,
	})
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for _, secret := range []string{"secret pw", b64("secret pw"), b64("\x00alice\x00nope")} {
			if strings.Contains(line, secret) {
				t.Errorf("a credential is in the log: %q %v", e.Message, e.ContextMap())
			}
		}
	}
}

func TestMetricsSASLTimeoutDuringExchange(t *testing.T) {
	ts := newTestServer(t, func(ts *testServer) { ts.h.IdleTimeout = caddy.Duration(50 * time.Millisecond) })
	rec := recordMetrics(t)
	c := ts.dial(t)
	pop3test.ExpectPrefix(t, "AUTH LOGIN", c.Cmd("AUTH LOGIN"), "+ ")
	// No answer to the challenge: the idle timeout ends the session.
	_, _ = io.ReadAll(c.Reader())
	waitSessionsGone(t)
	expectDeltas(t, rec.deltas(t), map[string]float64{
		`caddy_pop3_sessions_ended_total{reason="timeout"}`: 1,
		`caddy_pop3_sessions_ended_total{reason="error"}`:   0,
	})
}
