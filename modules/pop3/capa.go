package pop3

import "context"

// implementation is the IMPLEMENTATION capability's value. It carries no
// version number, so the banner tells an attacker nothing useful.
const implementation = "caddy-pop3"

// capabilities lists what this session offers right now (RFC 2449): a
// capability is only listed when it can be used in the current state on
// this connection.
func (s *session) capabilities() []string {
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

func (s *session) cmdCAPA(_ context.Context, _ command) error {
	s.ok("Capability list follows")
	for _, c := range s.capabilities() {
		s.line(c)
	}
	s.end()
	return nil
}
