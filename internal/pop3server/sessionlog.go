package pop3server

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// remoteFields are the log fields that name the client: remote is the
// address with its port, remote_ip the address alone (what fail2ban and
// similar tools match on).
func remoteFields(addr net.Addr) []zap.Field {
	remote := addr.String()
	ip := remote
	if host, _, err := net.SplitHostPort(remote); err == nil {
		ip = host
	}
	return []zap.Field{zap.String("remote", remote), zap.String("remote_ip", ip)}
}

// begin counts a new session and adds its ID to every line it logs.
func (s *Session) begin() {
	s.srv.obs.SessionStarted()
	// Lazy: most sessions log no line but the last, and With would copy
	// the logger's encoder (with its buffer) for each.
	s.log = s.log.WithLazy(append(remoteFields(s.conn.RemoteAddr()), zap.Uint64("session", s.id))...)
	s.log.Debug("session started", zap.Bool("tls", s.secure))
}

// finish counts the end of the session and logs one line that sums it up.
func (s *Session) finish() {
	reason := s.endLabel()
	s.srv.obs.SessionEnded(reason)

	fields := make([]zap.Field, 0, 9)
	if s.user != "" {
		fields = append(fields, zap.String("user", s.user))
	}
	fields = append(fields,
		zap.Bool("tls", s.secure),
		zap.Duration("duration", time.Since(s.started)),
		zap.Int64("messages_retrieved", s.stats.retrieved.Load()),
		zap.Int64("bytes_retrieved", s.stats.retrievedBytes.Load()),
		zap.Int64("messages_deleted", s.stats.deleted.Load()),
		zap.Int64("bytes_received", s.stats.bytesIn.Load()),
		zap.Int64("bytes_sent", s.stats.bytesOut.Load()),
		zap.String("reason", reason),
	)
	s.log.Info("session ended", fields...)
	close(s.stats.done)
}

// endLabel says how the session ended, for the metrics and the log: what
// the session itself decided, else what ended it from outside, else the
// client went away.
func (s *Session) endLabel() string {
	if r := s.stats.endedAs; r != "" && r != EndClientDrop {
		return r
	}
	if r, ok := s.endedFromOutside(); ok {
		return outsideEndReason(r)
	}
	return EndClientDrop
}

// outsideEndReason maps a reason given to shutdown to its metric label.
func outsideEndReason(reason string) string {
	switch reason {
	case ReasonReload:
		return EndReload
	case ReasonAdmin:
		return EndAdmin
	default:
		return EndShutdown
	}
}

// noteReadError records why the session ends when reading a command
// failed.
func (s *Session) noteReadError(err error) {
	if _, ended := s.endedFromOutside(); ended {
		return // endLabel reports it
	}
	switch {
	case errors.Is(err, errCloseSession):
		s.endAs(EndError)
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.endAs(EndTimeout)
	default:
		s.endAs(EndClientDrop)
	}
}

// storageError logs a storage failure at ERROR level with the backend's
// name and counts it. The backends' errors name the file or directory
// involved.
func (s *Session) storageError(msg string, err error, fields ...zap.Field) {
	backend := s.srv.storeName()
	s.srv.obs.StorageError(backend)
	s.log.Error(msg, append(fields, zap.String("backend", backend), zap.Error(err))...)
}

// numericArgCommands are the commands whose arguments are message numbers
// or line counts, safe to show in debug logs. No other command's
// arguments are logged: they may be credentials.
var numericArgCommands = map[string]bool{"LIST": true, "UIDL": true, "RETR": true, "TOP": true, "DELE": true}

// commandLogFields describes a command for a debug line without secrets.
func commandLogFields(cmd command) []zap.Field {
	fields := []zap.Field{zap.String("command", cmd.name)}
	if !numericArgCommands[cmd.name] {
		return append(fields, zap.Int("args", len(cmd.args())))
	}
	args := make([]string, len(cmd.args()))
	for i, a := range cmd.args() {
		if n, ok := parseNumber(a); ok {
			args[i] = strconv.Itoa(n)
		} else {
			args[i] = "(invalid)"
		}
	}
	return append(fields, zap.Strings("args", args))
}

// readErrorRecorder remembers a failure of the reader it wraps, so that a
// storage failure in the middle of a message can be told apart from the
// client going away.
type readErrorRecorder struct {
	r   io.Reader
	err error
}

// Read reads from the wrapped reader and keeps any error but io.EOF.
func (rr *readErrorRecorder) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && err != io.EOF {
		rr.err = err
	}
	return n, err
}
