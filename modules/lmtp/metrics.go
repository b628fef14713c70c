package lmtp

import (
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/promreg"
	"github.com/prometheus/client_golang/prometheus"
)

// Label values.
const (
	resultDelivered = "delivered" // stored; 250
	resultTempFail  = "temp_fail" // 4xx after DATA: the MTA retries
	resultPermFail  = "perm_fail" // 5xx after DATA: the MTA bounces
	resultRejected  = "rejected"  // refused at RCPT

	reasonTooLarge = "too_large" // over max_message_size
	reasonAborted  = "aborted"   // the client went away, or a shutdown, mid-message

	refusedUntrusted = "untrusted" // neither loopback nor trusted_networks
	refusedLimit     = "limit"     // max_connections or max_connections_per_ip
	refusedProxy     = "proxy"     // proxy_protocol refused the peer or its header
)

// The collectors are process-wide (sessions outlive their config); each
// Provision registers them in its config's registry.
var metrics = struct {
	sessionsActive prometheus.Gauge
	sessions       *prometheus.CounterVec
	refused        *prometheus.CounterVec
	recipients     *prometheus.CounterVec
	messages       prometheus.Counter
	rejected       *prometheus.CounterVec
	receivedBytes  prometheus.Counter
	deliveredBytes prometheus.Counter
	deliveryTime   *prometheus.HistogramVec
	messageTime    prometheus.Histogram
	all            []prometheus.Collector
}{}

func init() {
	m := &metrics
	o := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "caddy", Subsystem: "lmtp", Name: name, Help: help}
	}
	m.sessionsActive = prometheus.NewGauge(prometheus.GaugeOpts(o("sessions_active",
		"Number of LMTP sessions open now, including those of configs in their grace period.")))
	m.sessions = prometheus.NewCounterVec(prometheus.CounterOpts(o("sessions_total",
		"Number of LMTP sessions ended, by how they ended: closed (QUIT or the client closed), timeout, reload, shutdown, admin.")), []string{"reason"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts(o("connections_refused_total",
		"Number of connections refused before the greeting: untrusted (not loopback nor trusted_networks), limit, proxy.")), []string{"reason"})
	m.recipients = prometheus.NewCounterVec(prometheus.CounterOpts(o("recipients_total",
		"Number of recipients by result: delivered, temp_fail and perm_fail after DATA, rejected at RCPT.")), []string{"result"})
	m.messages = prometheus.NewCounter(prometheus.CounterOpts(o("messages_total",
		"Number of messages received in full (each delivered to one or more recipients).")))
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts(o("messages_rejected_total",
		"Number of messages not received in full, by reason: too_large (over max_message_size), aborted.")), []string{"reason"})
	m.receivedBytes = prometheus.NewCounter(prometheus.CounterOpts(o("received_bytes_total",
		"Octets of the messages received in full, before trace headers.")))
	m.deliveredBytes = prometheus.NewCounter(prometheus.CounterOpts(o("delivered_bytes_total",
		"Octets delivered into maildrops: each message's size once per recipient it was stored for.")))
	m.deliveryTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "caddy", Subsystem: "lmtp",
		Name: "delivery_duration_seconds", Help: "Time the storage backend took to deliver one message to one recipient, by result.",
		Buckets: prometheus.DefBuckets}, []string{"result"})
	m.messageTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "caddy", Subsystem: "lmtp",
		Name: "message_duration_seconds", Help: "Time from DATA to the last recipient's reply for messages received in full.",
		Buckets: prometheus.DefBuckets})
	m.all = []prometheus.Collector{m.sessionsActive, m.sessions, m.refused, m.recipients, m.messages, m.rejected,
		m.receivedBytes, m.deliveredBytes, m.deliveryTime, m.messageTime}
	for _, r := range []string{endClosed, endTimeout, endReload, endShutdown, endAdmin} {
		m.sessions.WithLabelValues(r)
	}
	for _, r := range []string{refusedUntrusted, refusedLimit, refusedProxy} {
		m.refused.WithLabelValues(r)
	}
	for _, r := range []string{resultDelivered, resultTempFail, resultPermFail, resultRejected} {
		m.recipients.WithLabelValues(r)
	}
	for _, r := range []string{resultDelivered, resultTempFail, resultPermFail} {
		m.deliveryTime.WithLabelValues(r)
	}
	for _, r := range []string{reasonTooLarge, reasonAborted} {
		m.rejected.WithLabelValues(r)
	}
}

// registerMetrics adds the collectors to a config's registry; ones
// already there (another lmtp handler of the config) are fine.
func registerMetrics(reg *prometheus.Registry) error {
	return promreg.Register(reg, metrics.all...)
}

func observeRefused(reason string)         { metrics.refused.WithLabelValues(reason).Inc() }
func observeRecipient(result string)       { metrics.recipients.WithLabelValues(result).Inc() }
func observeRejectedMessage(reason string) { metrics.rejected.WithLabelValues(reason).Inc() }
func observeDeliveredBytes(n int64)        { metrics.deliveredBytes.Add(float64(n)) }

// observeDelivery counts one recipient's delivery.
func observeDelivery(result string, d time.Duration) {
	metrics.recipients.WithLabelValues(result).Inc()
	metrics.deliveryTime.WithLabelValues(result).Observe(d.Seconds())
}

// observeMessage counts a message received in full and delivered.
func observeMessage(size int64, d time.Duration) {
	metrics.messages.Inc()
	metrics.receivedBytes.Add(float64(size))
	metrics.messageTime.Observe(d.Seconds())
}
