package pop3server

import (
	"context"

	"go.uber.org/zap"
)

// canStartTLS reports whether STLS is offered on this session now: it is
// configured, the connection is clear, and nobody has logged in.
func (s *Session) canStartTLS() bool {
	return s.srv.cfg.StartTLS != nil && !s.secure && s.state == stateAuthorization
}

// cmdSTLS upgrades the connection to TLS (RFC 2595 section 4). Whatever the
// client sent after STLS and before the handshake is discarded, so no
// plaintext command can be injected into the protected session
// (CVE-2011-0411). After the handshake the session starts afresh in the
// AUTHORIZATION state; its authentication deadline stays where it was.
func (s *Session) cmdSTLS(_ context.Context, _ command) error {
	switch {
	case s.srv.cfg.StartTLS == nil:
		return s.reject("STLS is not available on this server")
	case s.secure:
		return s.reject("Command not permitted when TLS active")
	}
	s.ok("Begin TLS negotiation")
	if err := s.w.Flush(); err != nil {
		return err
	}
	if n := s.commandBytes(); n > 0 {
		s.log.Warn("discarding data sent before the TLS handshake", zap.Int("bytes", n))
	}
	if !s.handshake(s.srv.cfg.StartTLS(), "STLS") {
		return errCloseSession
	}
	s.userArg = ""
	return nil
}
