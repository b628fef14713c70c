package pop3server

import (
	"bufio"
	"bytes"
	"errors"
	"time"
)

// errLineTooLong is returned by readBoundedLine for a line over its bound;
// the line has been read and dropped.
var errLineTooLong = errors.New("line too long")

// readCommand reads one command line. Lines over max_line_length are
// answered with -ERR and skipped, except AUTH lines, which may be as long
// as max_auth_line_length (RFC 5034).
func (s *Session) readCommand() ([]byte, error) {
	for {
		line, err := s.readLine()
		if err != nil {
			return nil, err
		}
		if len(line)+len("\r\n") <= s.srv.cfg.Limits.MaxLineLength || isAuthLine(line) {
			return line, nil
		}
		if err := s.lineTooLong(); err != nil {
			return nil, err
		}
	}
}

// isAuthLine reports whether line is an AUTH command.
func isAuthLine(line []byte) bool {
	return len(line) >= 5 && bytes.EqualFold(line[:5], []byte("AUTH "))
}

// readLine reads one line (a command or a SASL response) and returns it
// without its line ending. A line longer than max_auth_line_length is
// answered with -ERR and skipped without being buffered; too many of them
// end the session.
func (s *Session) readLine() ([]byte, error) {
	for {
		line, err := s.readRawLine()
		if !errors.Is(err, errLineTooLong) {
			return line, err
		}
		if err := s.lineTooLong(); err != nil {
			return nil, err
		}
	}
}

// readRawLine reads one line of at most max_auth_line_length octets and
// returns it without its line ending, or errLineTooLong after skipping a
// longer one. The whole line must arrive before its read deadline (see
// setLineDeadline), however slowly its bytes trickle in.
func (s *Session) readRawLine() ([]byte, error) {
	if err := s.setLineDeadline(); err != nil {
		return nil, err
	}
	// Checked after setting the deadline: shutdown stores the reason
	// before it moves the deadline, so one of the two is always seen.
	if _, ended := s.endedFromOutside(); ended {
		return nil, errEndedFromOutside
	}
	if err := s.reader(); err != nil {
		return nil, err
	}
	return s.readBoundedLine(s.srv.cfg.Limits.MaxAuthLineLength)
}

// lineTooLong answers an over-long line and counts it as an error.
func (s *Session) lineTooLong() error {
	if s.countError() {
		s.err("line too long" + tooManyErrors)
		return errCloseSession
	}
	s.err("line too long")
	if !s.commandBuffered() {
		return s.w.Flush()
	}
	return nil
}

// setLineDeadline sets the read deadline for the next line: idle_timeout
// from now, and never past the authentication deadline while the client
// has not logged in. It is set once per line, not per read, so a client
// sending a byte at a time cannot stretch it.
//
// Once the client has logged in, the bound that kept every read and write
// of the connection within the authentication deadline is lifted.
func (s *Session) setLineDeadline() error {
	deadline := time.Now().Add(s.srv.cfg.IdleTimeout)
	if s.state == stateAuthorization && !s.guard.authDeadline.IsZero() && s.guard.authDeadline.Before(deadline) {
		deadline = s.guard.authDeadline
	}
	if s.state == stateTransaction && s.dl.Bounded() {
		if err := s.dl.Bound(time.Time{}); err != nil {
			return err
		}
	}
	return s.conn.SetReadDeadline(deadline)
}

// readBoundedLine reads up to and including '\n' and returns the line
// without "\n" or "\r\n". A line that fits in the read buffer is returned
// without copying; a longer one is assembled in s.longLine up to limit
// octets (line ending included). Past the limit the rest of the line is
// read and dropped, and errLineTooLong returned. The returned slice is
// valid until the next read.
func (s *Session) readBoundedLine(limit int) ([]byte, error) {
	s.longLine = s.longLine[:0]
	for {
		frag, err := s.r.ReadSlice('\n')
		switch {
		case err == nil:
			line := frag
			if len(s.longLine) > 0 {
				if len(s.longLine)+len(frag) > limit {
					return nil, errLineTooLong
				}
				s.longLine = append(s.longLine, frag...)
				line = s.longLine
			} else if len(frag) > limit {
				return nil, errLineTooLong
			}
			line = line[:len(line)-1]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(s.longLine)+len(frag) >= limit {
				if err := s.discardLine(); err != nil {
					return nil, err
				}
				return nil, errLineTooLong
			}
			s.longLine = append(s.longLine, frag...)
		default:
			return nil, err
		}
	}
}

// discardLine skips the rest of an over-long line without buffering it.
func (s *Session) discardLine() error {
	for {
		_, err := s.r.ReadSlice('\n')
		if err == nil {
			return nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}
