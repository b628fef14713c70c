package pop3

import "github.com/caddy-pop3/caddy-pop3/internal/guard"

// guard.Failures returns the registry these limits count failures in.
func (l *Limits) failureCounts() *guard.Failures {
	if l.failures != nil {
		return l.failures
	}
	return guard.ProcessFailures
}
