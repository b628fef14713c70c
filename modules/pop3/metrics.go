package pop3

import (
	"strings"
	"sync"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/internal/promreg"
	"github.com/caddy-pop3/caddy-pop3/modules/auth"
	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// The collectors are process-wide: sessions outlive the config that
// started them, and counters must go on across reloads. Every config has
// its own metrics registry (the one its admin endpoint serves at
// /metrics), so each Provision registers these same collectors in the
// registry of its config; registering them twice in one registry (several
// pop3 handlers in one config) is not an error.
const metricsNamespace, metricsSubsystem = "caddy", "pop3"

// Values of the "reason" label of caddy_pop3_sessions_ended_total.

// endReasons lists every reason label, so each series exists from the
// start.

// Values of the "result" labels.
const (
	resultOK   = "ok"    // a +OK answer
	resultErr  = "err"   // a -ERR answer
	otherLabel = "other" // a mechanism or backend with no name of its own
)

// timedCommands are the commands that touch storage after login; their
// durations go to caddy_pop3_command_duration_seconds.

// metrics are the handler's Prometheus collectors.
var metrics = struct {
	sessionsActive   prometheus.Gauge
	sessionsStarted  prometheus.Counter
	sessionsEnded    *prometheus.CounterVec
	authAttempts     *prometheus.CounterVec
	lockouts         prometheus.Counter
	commands         *prometheus.CounterVec
	commandDuration  *prometheus.HistogramVec
	retrievedMsgs    prometheus.Counter
	retrievedBytes   prometheus.Counter
	deletedMsgs      prometheus.Counter
	storageErrors    *prometheus.CounterVec
	bytesReceived    prometheus.Counter
	bytesSent        prometheus.Counter
	all              []prometheus.Collector
	commandCountersM sync.Once
	commandCounters  map[string][2]prometheus.Counter // [ok, err] by command
	durations        map[string]prometheus.Observer
}{}

func init() {
	m := &metrics
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help}
	}
	m.sessionsActive = prometheus.NewGauge(prometheus.GaugeOpts(opts("sessions_active",
		"Number of POP3 sessions open right now, including those of configs that were reloaded and are in their grace period.")))
	m.sessionsStarted = prometheus.NewCounter(prometheus.CounterOpts(opts("sessions_started_total",
		"Number of POP3 sessions started (connections greeted).")))
	m.sessionsEnded = prometheus.NewCounterVec(prometheus.CounterOpts(opts("sessions_ended_total",
		"Number of POP3 sessions ended, by how they ended: quit, timeout, client_drop, reload, shutdown, admin, error, too_many_errors.")),
		[]string{"reason"})
	m.authAttempts = prometheus.NewCounterVec(prometheus.CounterOpts(opts("auth_attempts_total",
		"Number of authentication attempts, by mechanism (USER for USER/PASS, APOP, or the SASL mechanism) and result (success, failure, error).")),
		[]string{"mechanism", "result"})
	m.lockouts = prometheus.NewCounter(prometheus.CounterOpts(opts("lockouts_total",
		"Number of times a client address or user name was locked out after too many failed logins.")))
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts(opts("commands_total",
		"Number of POP3 commands received, by command (unknown for anything not a command) and result (ok for +OK, err for -ERR).")),
		[]string{"command", "result"})
	m.commandDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "command_duration_seconds",
		Help:    "Time taken by the commands that touch storage: login (opening and scanning the maildrop), RETR and TOP (reading and sending a message), QUIT (applying deletions in the UPDATE state).",
		Buckets: prometheus.DefBuckets,
	}, []string{"command"})
	m.retrievedMsgs = prometheus.NewCounter(prometheus.CounterOpts(opts("retrieved_messages_total",
		"Number of messages sent in full by RETR.")))
	m.retrievedBytes = prometheus.NewCounter(prometheus.CounterOpts(opts("retrieved_bytes_total",
		"Octets of the messages sent in full by RETR, as sizes are reported by LIST.")))
	m.deletedMsgs = prometheus.NewCounter(prometheus.CounterOpts(opts("deleted_messages_total",
		"Number of messages removed from maildrops by QUIT (the UPDATE state).")))
	m.storageErrors = prometheus.NewCounterVec(prometheus.CounterOpts(opts("storage_errors_total",
		"Number of storage failures (opening a maildrop, reading a message, applying deletions, unlocking), by storage backend.")),
		[]string{"backend"})
	m.bytesReceived = prometheus.NewCounter(prometheus.CounterOpts(opts("received_bytes_total",
		"Octets received from POP3 clients, TLS records included.")))
	m.bytesSent = prometheus.NewCounter(prometheus.CounterOpts(opts("sent_bytes_total",
		"Octets sent to POP3 clients, TLS records included.")))
	m.all = []prometheus.Collector{
		m.sessionsActive, m.sessionsStarted, m.sessionsEnded, m.authAttempts, m.lockouts,
		m.commands, m.commandDuration, m.retrievedMsgs, m.retrievedBytes, m.deletedMsgs,
		m.storageErrors, m.bytesReceived, m.bytesSent,
	}
	for _, r := range pop3server.EndReasons {
		m.sessionsEnded.WithLabelValues(r)
	}
	m.durations = map[string]prometheus.Observer{pop3server.OpLogin: m.commandDuration.WithLabelValues(pop3server.OpLogin)}
	for _, c := range pop3server.TimedCommands {
		m.durations[c] = m.commandDuration.WithLabelValues(c)
	}
}

// registerMetrics adds the handler's collectors to a config's metrics
// registry. A collector that is already there (another pop3 handler of the
// same config registered it) is fine.
func registerMetrics(reg *prometheus.Registry) error {
	if err := promreg.Register(reg, metrics.all...); err != nil {
		return err
	}
	commandCounter(pop3server.UnknownCommand) // every command's series exists from now on
	return nil
}

// commandCounter returns the [ok, err] counters of a command; names that
// are not in the command table share the "unknown" ones. The table is read
// on first use, after every init function added its commands.
func commandCounter(name string) [2]prometheus.Counter {
	metrics.commandCountersM.Do(func() {
		metrics.commandCounters = map[string][2]prometheus.Counter{}
		for _, n := range append(pop3server.CommandNames(), pop3server.UnknownCommand) {
			metrics.commandCounters[n] = [2]prometheus.Counter{
				metrics.commands.WithLabelValues(n, resultOK),
				metrics.commands.WithLabelValues(n, resultErr),
			}
		}
	})
	if c, ok := metrics.commandCounters[name]; ok {
		return c
	}
	return metrics.commandCounters[pop3server.UnknownCommand]
}

// observeAuth counts one authentication attempt. result is authSuccess,
// authFailure or authError (or another short fixed word).
func observeAuth(mechanism, result string) {
	mechanism = strings.ToUpper(mechanism)
	if !auth.KnownMechanism(mechanism) { // the mechanism table bounds the label
		mechanism = otherLabel
	}
	metrics.authAttempts.WithLabelValues(mechanism, result).Inc()
}

// observeLockout counts one lockout of a client address or user name
// after too many failed logins.
func observeLockout() {
	metrics.lockouts.Inc()
}

// storageBackend names the storage module of a handler for the "backend"
// label and for logs: "maildir" for pop3.storage.maildir.
func storageBackend(store any) string {
	if m, ok := store.(caddy.Module); ok {
		return m.CaddyModule().ID.Name()
	}
	return otherLabel
}

// metricsObserver turns the protocol engine's events into the handler's
// Prometheus metrics (pop3server.Observer).
type metricsObserver struct{}

// SessionStarted counts a greeted session.
func (metricsObserver) SessionStarted() {
	metrics.sessionsStarted.Inc()
	metrics.sessionsActive.Inc()
}

// SessionEnded counts an ended session by reason.
func (metricsObserver) SessionEnded(reason string) {
	metrics.sessionsEnded.WithLabelValues(reason).Inc()
	metrics.sessionsActive.Dec()
}

// BytesIn counts octets received.
func (metricsObserver) BytesIn(n int) { metrics.bytesReceived.Add(float64(n)) }

// BytesOut counts octets sent.
func (metricsObserver) BytesOut(n int) { metrics.bytesSent.Add(float64(n)) }

// Command counts a command by its first reply.
func (metricsObserver) Command(name string, ok bool) {
	c := commandCounter(name)
	if ok {
		c[0].Inc()
	} else {
		c[1].Inc()
	}
}

// Duration observes how long a storage operation took.
func (metricsObserver) Duration(op string, d time.Duration) {
	if o, ok := metrics.durations[op]; ok {
		o.Observe(d.Seconds())
	}
}

// Auth counts an authentication attempt.
func (metricsObserver) Auth(mechanism, result string) { observeAuth(mechanism, result) }

// Lockout counts a lockout.
func (metricsObserver) Lockout() { observeLockout() }

// Retrieved counts a message sent in full by RETR.
func (metricsObserver) Retrieved(size int64) {
	metrics.retrievedMsgs.Inc()
	metrics.retrievedBytes.Add(float64(size))
}

// Deleted counts messages removed by QUIT.
func (metricsObserver) Deleted(n int) { metrics.deletedMsgs.Add(float64(n)) }

// StorageError counts a storage failure by backend.
func (metricsObserver) StorageError(backend string) {
	metrics.storageErrors.WithLabelValues(backend).Inc()
}

// Interface guard
var _ pop3server.Observer = metricsObserver{}
