package pop3server

import (
	"context"
	"strconv"
	"time"
)

// implementation is the IMPLEMENTATION capability's value. It carries no
// version number, so the banner tells an attacker nothing useful.
const implementation = "caddy-pop3"

// capabilities lists what this session offers right now (RFC 2449): a
// capability is only listed when it can be used in the current state on
// this connection.
func (s *Session) capabilities() []string {
	caps := []string{"TOP", "UIDL"}
	if s.state == stateAuthorization && s.plaintextAllowed() {
		caps = append(caps, "USER")
	}
	caps = append(caps, s.authCapabilities()...)
	caps = append(caps,
		"RESP-CODES",
		"PIPELINING",
		"AUTH-RESP-CODE",
	)
	caps = append(caps, s.policyCapabilities()...)
	caps = append(caps, "IMPLEMENTATION "+implementation)
	return caps
}

func (s *Session) cmdCAPA(_ context.Context, _ command) error {
	s.ok("Capability list follows")
	for _, c := range s.capabilities() {
		s.line(c)
	}
	s.end()
	return nil
}

// policyCapabilities are the CAPA lines of the configured policies
// (RFC 2449 LOGIN-DELAY and EXPIRE).
func (s *Session) policyCapabilities() []string {
	var caps []string
	if s.srv.cfg.Limits.LoginDelay > 0 {
		caps = append(caps, "LOGIN-DELAY "+strconv.Itoa(int((s.srv.cfg.Limits.LoginDelay+time.Second-1)/time.Second)))
	}
	if v := s.srv.cfg.Limits.Expire; v != "" {
		caps = append(caps, "EXPIRE "+v)
	}
	return caps
}
