package pop3

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// sessionStats is what a session counts about itself, for the metrics, the
// log line at its end and the admin API. What other goroutines read is
// either an atomic counter, immutable after newSession, or published under
// mu when it changes (at most once per command, and only when it changed).
type sessionStats struct {
	remote string        // the client's address; immutable
	done   chan struct{} // closed when the session has ended; immutable

	bytesIn        atomic.Int64 // octets received, TLS records included
	bytesOut       atomic.Int64 // octets sent, TLS records included
	retrieved      atomic.Int64 // messages sent in full by RETR
	retrievedBytes atomic.Int64 // their sizes, as LIST reports them
	deleted        atomic.Int64 // messages removed by QUIT

	// Used by the session's own goroutine only.
	command  string            // the command being run, or unknownLabel
	reply    byte              // the first status of its answer: 0, '+' or '-'
	cmdStart time.Time         // when it began
	endedAs  string            // the end reason, once the session decided to end
	source   readErrorRecorder // reused by every RETR and TOP

	mu  sync.Mutex // guards pub; only the session's goroutine writes it
	pub sessionInfo
}

// sessionInfo is the part of a session's state that changes as it goes
// and that the admin API shows.
type sessionInfo struct {
	user  string
	state state
	tls   bool
}

// initStats sets up the statistics of a new session and makes its
// connection count the octets that go through it. It runs before the
// session is visible to other goroutines.
func (s *session) initStats() {
	st := &s.stats
	st.remote = s.conn.RemoteAddr().String()
	st.done = make(chan struct{})
	st.pub = sessionInfo{state: s.state, tls: s.secure}
	s.conn = &countingConn{Conn: s.conn, stats: st}
	s.r.Reset(s.conn)
	s.w.setDestination(s.conn)
}

// countingConn counts the octets read and written, once per call.
type countingConn struct {
	net.Conn
	stats *sessionStats
}

// Read reads from the connection and counts what it got.
func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.stats.bytesIn.Add(int64(n))
		metrics.bytesReceived.Add(float64(n))
	}
	return n, err
}

// Write writes to the connection and counts what it sent.
func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.stats.bytesOut.Add(int64(n))
		metrics.bytesSent.Add(float64(n))
	}
	return n, err
}

// commandStart begins the bookkeeping of one command line.
func (s *session) commandStart() {
	s.stats.command = unknownLabel
	s.stats.reply = 0
	s.stats.cmdStart = time.Now()
}

// noteReply records the status of the first answer to a command.
func (s *session) noteReply(status byte) {
	if s.stats.reply == 0 {
		s.stats.reply = status
	}
}

// commandDone counts the command that just ran, times it when it touches
// storage, publishes what changed, and, when err ends the session, says
// why.
func (s *session) commandDone(err error) {
	st := &s.stats
	counters := commandCounter(st.command)
	if st.reply == '-' {
		counters[1].Inc()
	} else {
		counters[0].Inc()
	}
	// QUIT touches storage only from the TRANSACTION state.
	if o, ok := metrics.durations[st.command]; ok && (st.command != "QUIT" || s.state == stateTransaction) {
		o.Observe(time.Since(st.cmdStart).Seconds())
	}
	if err != nil {
		switch {
		case st.command == "QUIT" && st.reply == '+':
			s.endAs(endQuit)
		case errors.Is(err, errCloseSession):
			s.endAs(endError)
		default:
			s.endAs(endClientDrop)
		}
	}
	s.publish()
}

// endAs records why the session ends, unless a reason was already given.
func (s *session) endAs(reason string) {
	if s.stats.endedAs == "" {
		s.stats.endedAs = reason
	}
}

// publish makes the user, state and TLS flag visible to the admin API
// when they changed.
func (s *session) publish() {
	p := &s.stats.pub // only this goroutine writes it, so reading is safe
	if p.user == s.user && p.state == s.state && p.tls == s.secure {
		return
	}
	s.stats.mu.Lock()
	*p = sessionInfo{user: s.user, state: s.state, tls: s.secure}
	s.stats.mu.Unlock()
}

// published returns what publish last made visible; any goroutine may call
// it.
func (s *session) published() sessionInfo {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.pub
}

// countRetrieved counts a message sent in full by RETR.
func (s *session) countRetrieved(size int64) {
	s.stats.retrieved.Add(1)
	s.stats.retrievedBytes.Add(size)
	metrics.retrievedMsgs.Inc()
	metrics.retrievedBytes.Add(float64(size))
}

// countDeleted counts the messages QUIT removed.
func (s *session) countDeleted(n int) {
	s.stats.deleted.Add(int64(n))
	metrics.deletedMsgs.Add(float64(n))
}

// observeDuration records how long a storage operation took since start.
func observeDuration(operation string, start time.Time) {
	if o, ok := metrics.durations[operation]; ok {
		o.Observe(time.Since(start).Seconds())
	}
}

// recordReadErrors returns r wrapped so that its failures can be told
// apart from the client's, reusing the session's wrapper.
func (st *sessionStats) recordReadErrors(r io.Reader) *readErrorRecorder {
	st.source = readErrorRecorder{r: r}
	return &st.source
}
