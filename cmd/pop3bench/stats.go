package main

import (
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

// maxSamples bounds the latencies one recorder keeps; past it, a uniform
// sample of them is kept (reservoir sampling).
const maxSamples = 1 << 18

// maxErrorSamples is how many error messages a report quotes.
const maxErrorSamples = 10

// latencies records durations, keeping a bounded uniform sample.
type latencies struct {
	seen    int64
	samples []time.Duration
	rng     *rand.Rand
}

func newLatencies(seed uint64) *latencies {
	return &latencies{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (l *latencies) add(d time.Duration) {
	l.seen++
	if len(l.samples) < maxSamples {
		l.samples = append(l.samples, d)
		return
	}
	if j := l.rng.Int64N(l.seen); j < maxSamples {
		l.samples[j] = d
	}
}

// Percentiles are latency percentiles in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// percentiles merges recorders and computes nearest-rank percentiles.
func percentiles(ls ...*latencies) Percentiles {
	var all []time.Duration
	var p Percentiles
	for _, l := range ls {
		all = append(all, l.samples...)
		p.Count += l.seen
	}
	if len(all) == 0 {
		return p
	}
	slices.Sort(all)
	rank := func(q float64) float64 {
		i := int(q*float64(len(all))+0.999999) - 1
		i = max(0, min(i, len(all)-1))
		return ms(all[i])
	}
	p.P50, p.P90, p.P99 = rank(0.50), rank(0.90), rank(0.99)
	p.Max = ms(all[len(all)-1])
	return p
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// tally counts the outcomes of one worker.
type tally struct {
	sessions  int64
	messages  int64
	bytes     int64
	errors    int64
	integrity int64
	samples   []string
	login     *latencies
	session   *latencies
	retr      *latencies
}

func newTally(seed uint64) *tally {
	return &tally{login: newLatencies(seed), session: newLatencies(seed + 1), retr: newLatencies(seed + 1<<32)}
}

// fail counts err as an error of the run or, for wrong data, an integrity
// error.
func (t *tally) fail(err error) {
	var ie *integrityError
	if errors.As(err, &ie) {
		t.integrity++
	} else {
		t.errors++
	}
	if len(t.samples) < maxErrorSamples {
		t.samples = append(t.samples, err.Error())
	}
}

// Result is the report of one run, printed as text or JSON.
type Result struct {
	Mode      string  `json:"mode"`
	Addr      string  `json:"addr"`
	Auth      string  `json:"auth"`
	Clients   int     `json:"clients"`
	Users     int     `json:"users"`
	Seconds   float64 `json:"seconds"`
	Verified  string  `json:"verified"`
	Sessions  int64   `json:"sessions"`
	Messages  int64   `json:"messages"`
	Bytes     int64   `json:"bytes"`
	SessionsS float64 `json:"sessions_per_s"`
	MessagesS float64 `json:"messages_per_s"`
	MBs       float64 `json:"mb_per_s"`

	// ServerCPUSeconds is the CPU time of the server's processes (given
	// by -pid or -pids) during the timed run; ClientCPUSeconds is this
	// program's. Zero when not measured.
	ServerCPUSeconds      float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUPerSessionMs float64 `json:"server_cpu_ms_per_session,omitempty"`
	ClientCPUSeconds      float64 `json:"client_cpu_seconds"`
	// DBCPUSeconds is the CPU time of the database's processes (given
	// by -db-pid) during the timed run, apart from the server's.
	DBCPUSeconds      float64 `json:"db_cpu_seconds,omitempty"`
	DBCPUPerSessionMs float64 `json:"db_cpu_ms_per_session,omitempty"`
	// StealPercent is the share of the machine's CPU time that the
	// hypervisor gave to other guests during the run (-1: unknown). On a
	// shared virtual machine it tells a slow run from a slow server.
	StealPercent float64 `json:"steal_percent"`

	Login   Percentiles `json:"login_latency"`
	Session Percentiles `json:"session_latency"`
	// Retr is the latency of each RETR, from the command to the
	// terminator (small and big modes, not pipelined).
	Retr      Percentiles `json:"retr_latency"`
	Pipelined bool        `json:"pipelined,omitempty"`

	Errors          int64    `json:"errors"`
	IntegrityErrors int64    `json:"integrity_errors"`
	ErrorSamples    []string `json:"error_samples,omitempty"`
	FailedInWarmup  bool     `json:"failed_in_warmup,omitempty"`

	Idle *IdleResult `json:"idle,omitempty"`
	Poll *PollResult `json:"poll,omitempty"`
}

// IdleResult is the memory report of idle mode.
type IdleResult struct {
	Connections      int     `json:"connections"`
	Held             int     `json:"held"`
	OpenSeconds      float64 `json:"open_seconds"`
	PSSBeforeKiB     int64   `json:"pss_before_kib"`
	PSSAfterKiB      int64   `json:"pss_after_kib"`
	ProcessesBefore  int     `json:"processes_before"`
	ProcessesAfter   int     `json:"processes_after"`
	PSSPerConnKiB    float64 `json:"pss_per_connection_kib"`
	PSSMeasured      bool    `json:"pss_measured"`
	StillAliveAtEnd  int     `json:"alive_at_end"`
	SettleSeconds    float64 `json:"settle_seconds"`
	HoldSeconds      float64 `json:"hold_seconds"`
	ClientRLimitSoft uint64  `json:"client_nofile_limit"`
	// NoopRounds is how many times every connection sent NOOP during the
	// hold (-noop-every); the PSS after the last round is the memory of
	// connections that have been used, not only opened.
	NoopRounds             int     `json:"noop_rounds,omitempty"`
	PSSAfterNoopKiB        int64   `json:"pss_after_noop_kib,omitempty"`
	PSSPerConnAfterNoopKiB float64 `json:"pss_per_connection_after_noop_kib,omitempty"`
}

// merge adds up worker tallies into r.
func (r *Result) merge(ts []*tally, elapsed time.Duration) {
	var logins, sessions, retrs []*latencies
	for _, t := range ts {
		r.Sessions += t.sessions
		r.Messages += t.messages
		r.Bytes += t.bytes
		r.Errors += t.errors
		r.IntegrityErrors += t.integrity
		for _, s := range t.samples {
			if len(r.ErrorSamples) < maxErrorSamples {
				r.ErrorSamples = append(r.ErrorSamples, s)
			}
		}
		logins = append(logins, t.login)
		sessions = append(sessions, t.session)
		retrs = append(retrs, t.retr)
	}
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.SessionsS = float64(r.Sessions) / r.Seconds
		r.MessagesS = float64(r.Messages) / r.Seconds
		r.MBs = float64(r.Bytes) / 1e6 / r.Seconds
	}
	r.Login = percentiles(logins...)
	r.Session = percentiles(sessions...)
	r.Retr = percentiles(retrs...)
}
