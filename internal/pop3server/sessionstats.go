package pop3server

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/netconn"
)

// sessionStats is what a session counts about itself, for the metrics, the
// log line at its end and the admin API. What other goroutines read is
// either an atomic counter, immutable after newSession, or published under
// mu when it changes (at most once per command, and only when it changed).
type sessionStats struct {
	obs    Observer      // the server's; immutable
	remote string        // the client's address; immutable
	done   chan struct{} // closed when the session has ended; immutable

	bytesIn        atomic.Int64 // octets received, TLS records included
	bytesOut       atomic.Int64 // octets sent, TLS records included
	retrieved      atomic.Int64 // messages sent in full by RETR
	retrievedBytes atomic.Int64 // their sizes, as LIST reports them
	deleted        atomic.Int64 // messages removed by QUIT

	// Used by the session's own goroutine only.
	command  string            // the command being run, or UnknownCommand
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
func (s *Session) initStats() {
	st := &s.stats
	st.remote = s.conn.RemoteAddr().String()
	st.done = make(chan struct{})
	st.pub = sessionInfo{state: s.state, tls: s.secure}
	st.obs = s.srv.obs
	s.conn = &netconn.Counting{Conn: s.conn, Counter: st}
	if s.r != nil {
		s.r.Reset(s.conn)
	}
	s.w.setDestination(s.conn)
}

// CountIn counts octets received (netconn.Counter).
func (st *sessionStats) CountIn(n int) {
	st.bytesIn.Add(int64(n))
	st.obs.BytesIn(n)
}

// CountOut counts octets sent (netconn.Counter).
func (st *sessionStats) CountOut(n int) {
	st.bytesOut.Add(int64(n))
	st.obs.BytesOut(n)
}

// commandStart begins the bookkeeping of one command line.
func (s *Session) commandStart() {
	s.stats.command = UnknownCommand
	s.stats.reply = 0
	s.stats.cmdStart = time.Now()
}

// noteReply records the status of the first answer to a command.
func (s *Session) noteReply(status byte) {
	if s.stats.reply == 0 {
		s.stats.reply = status
	}
}

// commandDone counts the command that just ran, times it when it touches
// storage, publishes what changed, and, when err ends the session, says
// why.
func (s *Session) commandDone(err error) {
	st := &s.stats
	s.srv.obs.Command(st.command, st.reply != '-')
	// QUIT touches storage only from the TRANSACTION state.
	if timed[st.command] && (st.command != "QUIT" || s.state == stateTransaction) {
		s.srv.obs.Duration(st.command, time.Since(st.cmdStart))
	}
	if err != nil {
		switch {
		case st.command == "QUIT" && st.reply == '+':
			s.endAs(EndQuit)
		case errors.Is(err, errCloseSession):
			s.endAs(EndError)
		default:
			s.endAs(EndClientDrop)
		}
	}
	s.publish()
}

// endAs records why the session ends, unless a reason was already given.
func (s *Session) endAs(reason string) {
	if s.stats.endedAs == "" {
		s.stats.endedAs = reason
	}
}

// publish makes the user, state and TLS flag visible to the admin API
// when they changed.
func (s *Session) publish() {
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
func (s *Session) published() sessionInfo {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.pub
}

// countRetrieved counts a message sent in full by RETR.
func (s *Session) countRetrieved(size int64) {
	s.stats.retrieved.Add(1)
	s.stats.retrievedBytes.Add(size)
	s.srv.obs.Retrieved(size)
}

// countDeleted counts the messages QUIT removed.
func (s *Session) countDeleted(n int) {
	s.stats.deleted.Add(int64(n))
	s.srv.obs.Deleted(n)
}

// recordReadErrors returns r wrapped so that its failures can be told
// apart from the client's, reusing the session's wrapper.
func (st *sessionStats) recordReadErrors(r io.Reader) *readErrorRecorder {
	st.source = readErrorRecorder{r: r}
	return &st.source
}

// timed are the commands whose durations are observed: TimedCommands.
var timed = func() map[string]bool {
	m := make(map[string]bool, len(TimedCommands))
	for _, c := range TimedCommands {
		m[c] = true
	}
	return m
}()
