package pop3

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// adminSessionsPath is where the admin API lists POP3 sessions.
const adminSessionsPath = "/pop3/sessions"

// adminEndWait bounds how long DELETE waits for the session to be gone.
const adminEndWait = 10 * time.Second

// AdminAPI is the admin.api.pop3 module: it shows the live POP3 sessions
// of the process on Caddy's admin endpoint and ends one on request.
//
//	GET    /pop3/sessions       every live session, oldest first
//	GET    /pop3/sessions/<id>  one session
//	DELETE /pop3/sessions/<id>  end one session
//
// Ending a session is safe: the client gets -ERR [SYS/TEMP], messages it
// marked with DELE stay in the maildrop, and a QUIT whose deletions are
// already being applied finishes first.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.pop3",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Routes returns the admin routes of the POP3 sessions.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: adminSessionsPath, Handler: caddy.AdminHandlerFunc(a.handleList)},
		{Pattern: adminSessionsPath + "/", Handler: caddy.AdminHandlerFunc(a.handleOne)},
	}
}

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

// view returns what the admin API shows of s; any goroutine may call it.
func (s *session) view() SessionView {
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
		Draining:          s.h.stopping.Load(),
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

func (a *AdminAPI) handleList(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, r, http.MethodGet)
	}
	sessions := liveSessions.Of(nil)
	views := make([]SessionView, 0, len(sessions))
	for _, s := range sessions {
		views = append(views, s.view())
	}
	slices.SortFunc(views, func(a, b SessionView) int { return cmp.Compare(a.ID, b.ID) })
	return writeJSON(w, http.StatusOK, views)
}

func (a *AdminAPI) handleOne(w http.ResponseWriter, r *http.Request) error {
	idText := strings.TrimPrefix(r.URL.Path, adminSessionsPath+"/")
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("%q is not a session ID", idText)}
	}
	s, _ := liveSessions.Get(id)
	if s == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no live POP3 session %d", id)}
	}
	switch r.Method {
	case http.MethodGet:
		return writeJSON(w, http.StatusOK, s.view())
	case http.MethodDelete:
		return endSession(w, r, s)
	default:
		return methodNotAllowed(w, r, http.MethodGet, http.MethodDelete)
	}
}

// endResult is the answer to DELETE /pop3/sessions/<id>.
type endResult struct {
	ID uint64 `json:"id"`
	// Ended is true when the session is over; false when it was told to
	// end but had not finished within the wait (it will, soon).
	Ended bool `json:"ended"`
}

// endSession ends s without applying its deletions and waits, for a
// bounded time, until it is over.
func endSession(w http.ResponseWriter, r *http.Request, s *session) error {
	s.Shutdown(endReasonAdmin)
	s.h.logger.Info("session ended through the admin API", zap.Uint64("session", s.id), zap.String("remote", s.stats.remote))
	timer := time.NewTimer(adminEndWait)
	defer timer.Stop()
	select {
	case <-s.stats.done:
		return writeJSON(w, http.StatusOK, endResult{ID: s.id, Ended: true})
	case <-timer.C:
	case <-r.Context().Done():
	}
	return writeJSON(w, http.StatusAccepted, endResult{ID: s.id})
}

// methodNotAllowed answers 405 with the allowed methods.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) error {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
}

// writeJSON answers with v as JSON. Once the status is sent, a failure to
// write the body can only be the client's, so it is not reported.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

// Interface guards
var _ caddy.AdminRouter = (*AdminAPI)(nil)
