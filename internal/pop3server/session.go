package pop3server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/netconn"
	"github.com/caddy-pop3/caddy-pop3/internal/sessions"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// state is a POP3 session state (RFC 1939 section 3).
type state uint8

// The session states. UPDATE is entered by QUIT and ends the session, so it
// is not a state a command can run in.
const (
	stateAuthorization state = 1 << iota
	stateTransaction
)

const (
	// readBufferSize is the per-session input buffer. Lines up to this
	// size are parsed in place; longer ones, up to max_auth_line_length,
	// are assembled (see lines.go).
	readBufferSize = 1024
	// writeBufferSize is the per-session output buffer.
	writeBufferSize = 4096
	// maxErrors is the default of max_errors: how many bad commands a
	// session may send before it is disconnected.
	maxErrors = 20
)

// errCloseSession ends the session loop after the response is flushed.
var errCloseSession = errors.New("session closed")

// errEndedFromOutside means shutdown was called.
var errEndedFromOutside = errors.New("session ended from outside")

// session is one POP3 conversation on one connection.
type Session struct {
	id      uint64    // set by the registry
	started time.Time // when the connection was accepted

	// endReason is set, once, when the session is ended from outside (a
	// reload's grace period is over, process exit, the admin API).
	endReason atomic.Pointer[string]
	// cancel ends the context of the session's commands, so that one
	// waiting in the storage backend or the authenticator stops when the
	// session is ended from outside; set by serve.
	cancel atomic.Pointer[context.CancelFunc]

	srv  *Server
	conn net.Conn
	dl   *netconn.Deadlines // under conn: its deadlines and their bound
	r    *bufio.Reader      // nil while a session with a waiter waits (idleread.go)
	w    *replyWriter
	log  *zap.Logger

	// waiter waits for input without a buffer; nil when the connection
	// cannot (TLS).
	waiter netconn.ReadableWaiter

	secure   bool // TLS
	loopback bool // the client is on a loopback address

	apopStamp string // the greeting's APOP timestamp, when APOP is on

	state    state
	userArg  string // the name given by USER, awaiting PASS
	user     string // the authenticated user
	drop     storage.Maildrop
	msgs     []storage.Message
	deleted  []bool
	nDeleted int
	delSize  int64
	errors   int

	longLine []byte // assembles lines longer than the read buffer (lines.go)

	stats sessionStats // metrics, the end-of-session log line, the admin API
	guard sessionGuard // limits: client identity, auth deadline, user claim
}

func newSession(srv *Server, conn net.Conn, secure, loopback bool) *Session {
	dl := netconn.WithDeadlines(conn, srv.cfg.IdleTimeout)
	s := &Session{
		srv:      srv,
		conn:     dl,
		dl:       dl,
		w:        newReplyWriter(dl),
		log:      srv.log, // with the session's fields from begin on
		secure:   secure,
		loopback: loopback,
		state:    stateAuthorization,
		started:  time.Now(),
		guard:    newGuard(srv, conn, loopback),
	}
	s.startReading(conn)
	// Before login, no read or write outlives the authentication
	// deadline: not a TLS handshake, not a reply the client never reads.
	_ = dl.Bound(s.guard.authDeadline)
	if srv.cfg.Secrets != nil {
		s.apopStamp = apopTimestamp(srv.cfg.Hostname)
	}
	s.initStats()
	return s
}

// Shutdown ends the session from another goroutine: the session sees the
// reason at its next read (or its blocked read or write fails at once),
// answers -ERR [SYS/TEMP] when it can, and ends without deleting anything.
// A command waiting in the storage backend or the authenticator has its
// context cancelled. A commit already under way is not interrupted.
func (s *Session) Shutdown(reason string) {
	if !s.endReason.CompareAndSwap(nil, &reason) {
		return
	}
	close(s.guard.ended) // wakes a failure delay
	now := time.Now()
	_ = s.conn.SetReadDeadline(now)
	_ = s.conn.SetWriteDeadline(now)
	if cancel := s.cancel.Load(); cancel != nil {
		(*cancel)()
	}
}

// Owner returns the handler the session belongs to.
func (s *Session) Owner() any { return s.srv.cfg.Owner }

// endedFromOutside returns the reason given to shutdown, if any.
func (s *Session) endedFromOutside() (string, bool) {
	if r := s.endReason.Load(); r != nil {
		return *r, true
	}
	return "", false
}

// serve runs the session to its end. Whatever way it ends, a maildrop that
// was not committed by QUIT is closed with nothing deleted.
func (s *Session) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.cancel.Store(&cancel)
	if _, ended := s.endedFromOutside(); ended {
		cancel() // shutdown came before the store above
	}
	s.begin()
	defer s.finish()
	defer s.releaseMaildrop()
	defer s.releaseUserSlot()

	if !s.startImplicitTLS() {
		return
	}
	s.ok(s.greeting())
	if s.w.Flush() != nil {
		return
	}
	s.w.idle()
	for {
		line, err := s.readCommand()
		if err != nil {
			s.endOnReadError(err)
			return
		}
		s.commandStart()
		err = s.dispatch(ctx, line)
		s.commandDone(err)
		// Answer every pipelined command before flushing: flush only
		// when no complete command is waiting in our buffer.
		if err != nil || !s.commandBuffered() {
			if ferr := s.w.Flush(); ferr != nil {
				return
			}
			s.w.idle()
			s.readerIdle()
		}
		if err != nil {
			return
		}
	}
}

// commandBuffered reports whether a complete line is waiting in the input
// buffer, so that its reply can join the ones not yet flushed. A partial
// line does not count: the client may be waiting for our replies before it
// sends the rest.
func (s *Session) commandBuffered() bool {
	if s.r == nil {
		return false
	}
	n := s.r.Buffered()
	if n == 0 {
		return false
	}
	buf, _ := s.r.Peek(n)
	return bytes.IndexByte(buf, '\n') >= 0
}

func (s *Session) greeting() string {
	if s.apopStamp != "" {
		return s.srv.cfg.Hostname + " POP3 server ready " + s.apopStamp
	}
	return s.srv.cfg.Hostname + " POP3 server ready"
}

// endOnReadError tells the client why the session ends, when it can still
// hear it.
func (s *Session) endOnReadError(err error) {
	s.noteReadError(err)
	// The farewell below has a short deadline of its own, even when the
	// authentication deadline has passed.
	_ = s.dl.Bound(time.Time{})
	if reason, ended := s.endedFromOutside(); ended {
		s.log.Debug("ending session", zap.String("user", s.user), zap.String("reason", reason))
		_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		s.err(codeSysTemp + reason)
		_ = s.w.Flush()
		return
	}
	switch {
	case errors.Is(err, errCloseSession):
		_ = s.w.Flush()
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.log.Debug("session idle timeout", zap.String("user", s.user))
		s.err(codeSysTemp + "Disconnected for inactivity")
		_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_ = s.w.Flush()
	case errors.Is(err, io.EOF):
		s.log.Debug("client closed the connection", zap.String("user", s.user))
	default:
		s.log.Debug("reading command", zap.Error(err))
	}
}

// countError counts a bad command and reports whether the session has had
// too many and must end. The caller answers the command with one -ERR
// line, ending in tooManyErrors when the session ends.
func (s *Session) countError() bool {
	s.errors++
	if s.errors < s.srv.cfg.Limits.MaxErrors {
		return false
	}
	s.endAs(EndTooManyErrors)
	return true
}

// tooManyErrors ends the one -ERR line of the bad command that ends the
// session.
const tooManyErrors = "; too many invalid commands, closing connection"

// releaseMaildrop closes the maildrop of a session that ended without a
// successful UPDATE, deleting nothing.
func (s *Session) releaseMaildrop() {
	if s.drop == nil {
		return
	}
	if err := s.drop.Close(); err != nil {
		s.storageError("closing maildrop", err, zap.String("user", s.user))
	}
	s.drop = nil
}

// ok writes a single-line positive response.
func (s *Session) ok(text string) {
	s.noteReply('+')
	if text == "" {
		s.w.WriteString("+OK\r\n")
		return
	}
	s.w.WriteString("+OK ")
	s.w.WriteString(text)
	s.w.WriteString("\r\n")
}

// err writes a single-line negative response.
func (s *Session) err(text string) {
	s.noteReply('-')
	s.w.WriteString("-ERR ")
	s.w.WriteString(text)
	s.w.WriteString("\r\n")
}

// line writes one line of a multi-line response. Callers only pass text
// that cannot begin with '.'.
func (s *Session) line(text string) {
	s.w.WriteString(text)
	s.w.WriteString("\r\n")
}

// end terminates a multi-line response.
func (s *Session) end() {
	s.w.WriteString(".\r\n")
}

// Live is the registry of this process's POP3 sessions, across every
// server and loaded config: the adapter ends a replaced config's sessions
// through it, drains it at exit and lists it in the admin API.
var Live = sessions.New[*Session]()

// Interface guard
var _ sessions.Session = (*Session)(nil)
