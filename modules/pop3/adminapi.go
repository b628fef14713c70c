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

	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
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

func (a *AdminAPI) handleList(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, r, http.MethodGet)
	}
	sessions := pop3server.Live.Of(nil)
	views := make([]pop3server.SessionView, 0, len(sessions))
	for _, s := range sessions {
		views = append(views, s.View())
	}
	slices.SortFunc(views, func(a, b pop3server.SessionView) int { return cmp.Compare(a.ID, b.ID) })
	return writeJSON(w, http.StatusOK, views)
}

func (a *AdminAPI) handleOne(w http.ResponseWriter, r *http.Request) error {
	idText := strings.TrimPrefix(r.URL.Path, adminSessionsPath+"/")
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("%q is not a session ID", idText)}
	}
	s, _ := pop3server.Live.Get(id)
	if s == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no live POP3 session %d", id)}
	}
	switch r.Method {
	case http.MethodGet:
		return writeJSON(w, http.StatusOK, s.View())
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
func endSession(w http.ResponseWriter, r *http.Request, s *pop3server.Session) error {
	s.Shutdown(pop3server.ReasonAdmin)
	ownerLogger(s).Info("session ended through the admin API", zap.Uint64("session", s.ID()), zap.String("remote", s.Remote()))
	timer := time.NewTimer(adminEndWait)
	defer timer.Stop()
	select {
	case <-s.Done():
		return writeJSON(w, http.StatusOK, endResult{ID: s.ID(), Ended: true})
	case <-timer.C:
	case <-r.Context().Done():
	}
	return writeJSON(w, http.StatusAccepted, endResult{ID: s.ID()})
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

// ownerLogger is the logger of the handler a session belongs to.
func ownerLogger(s *pop3server.Session) *zap.Logger {
	if h, ok := s.Owner().(*Handler); ok && h.logger != nil {
		return h.logger
	}
	return zap.NewNop()
}
