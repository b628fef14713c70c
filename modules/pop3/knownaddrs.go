package pop3

import "github.com/caddy-pop3/caddy-pop3/internal/guard"

// knownAddrs returns the registry these limits remember known
// addresses in.
func (l *Limits) knownAddrs() *guard.Known {
	if l.known != nil {
		return l.known
	}
	return guard.ProcessKnown
}
