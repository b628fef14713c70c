package pop3server

import "time"

// SessionView is how the admin API shows one POP3 session.
type SessionView struct {
	// ID identifies the session in the admin API and in log lines
	// ("session" field).
	ID uint64 `json:"id"`
	// Remote is the client's address and port.
	Remote string `json:"remote"`
	// User is the authenticated user; empty before login.
	User string `json:"user,omitempty"`
	// State is "authorization" or "transaction" (RFC 1939).
	State string `json:"state"`
	// TLS tells whether the connection is encrypted.
	TLS bool `json:"tls"`
	// Started is when the connection was accepted.
	Started time.Time `json:"started"`
	// BytesReceived and BytesSent count the octets on the connection.
	BytesReceived int64 `json:"bytes_received"`
	BytesSent     int64 `json:"bytes_sent"`
	// MessagesRetrieved and BytesRetrieved count what RETR sent.
	MessagesRetrieved int64 `json:"messages_retrieved"`
	BytesRetrieved    int64 `json:"bytes_retrieved"`
	// Draining is true when the config the session began under was
	// reloaded or stopped: it ends at the end of the grace period.
	Draining bool `json:"draining,omitempty"`
	// Ending is true when the session was told to end and has not yet.
	Ending bool `json:"ending,omitempty"`
}

// View returns what the admin API shows of s; any goroutine may call it.
func (s *Session) View() SessionView {
	info := s.published()
	_, ending := s.endedFromOutside()
	return SessionView{
		ID:                s.id,
		Remote:            s.stats.remote,
		User:              info.user,
		State:             info.state.String(),
		TLS:               info.tls,
		Started:           s.started,
		BytesReceived:     s.stats.bytesIn.Load(),
		BytesSent:         s.stats.bytesOut.Load(),
		MessagesRetrieved: s.stats.retrieved.Load(),
		BytesRetrieved:    s.stats.retrievedBytes.Load(),
		Draining:          s.srv.draining.Load(),
		Ending:            ending,
	}
}

// String names the state as RFC 1939 does, in lower case.
func (st state) String() string {
	switch st {
	case stateAuthorization:
		return "authorization"
	case stateTransaction:
		return "transaction"
	}
	return "unknown"
}

// ID returns the session's ID (in log lines and the admin API).
func (s *Session) ID() uint64 { return s.id }

// Remote returns the client's address.
func (s *Session) Remote() string { return s.stats.remote }

// Done returns a channel closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.stats.done }
