package pop3server

// startImplicitTLS runs the handshake of an implicit-TLS connection before
// the greeting. It reports whether the session may go on.
func (s *Session) startImplicitTLS() bool {
	if s.srv.cfg.ImplicitTLS == nil || s.secure {
		return true
	}
	return s.handshake(s.srv.cfg.ImplicitTLS(), "implicit TLS")
}
