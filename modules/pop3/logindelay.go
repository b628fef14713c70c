package pop3

import (
	"strconv"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/guard"
)

// guard.Logins returns the registry these limits record logins in.
func (l *Limits) loginTimes() *guard.Logins {
	if l.logins != nil {
		return l.logins
	}
	return guard.ProcessLogins
}

// loginDelaySeconds is LOGIN-DELAY's argument: the delay in whole seconds,
// rounded up.
func (l *Limits) loginDelaySeconds() int {
	d := time.Duration(l.LoginDelay)
	return int((d + time.Second - 1) / time.Second)
}

// policyCapabilities are the CAPA lines of the configured policies
// (RFC 2449 LOGIN-DELAY and EXPIRE).
func (s *session) policyCapabilities() []string {
	var caps []string
	if s.h.Limits.LoginDelay > 0 {
		caps = append(caps, "LOGIN-DELAY "+strconv.Itoa(s.h.Limits.loginDelaySeconds()))
	}
	if v, _ := parseExpire(s.h.Limits.Expire); v != "" {
		caps = append(caps, "EXPIRE "+v)
	}
	return caps
}
