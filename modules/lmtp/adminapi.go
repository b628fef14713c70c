package lmtp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-pop3/caddy-pop3/internal/sessions"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// adminSessionsPath is where the admin API lists LMTP sessions.
const adminSessionsPath = "/lmtp/sessions"

// endAdmin is the end reason of a session ended through the admin API.
const endAdmin = "admin"

// AdminAPI is the admin.api.lmtp module: it lists the live LMTP sessions
// of the process and can end one.
//
//	GET    /lmtp/sessions       every live session, oldest first
//	DELETE /lmtp/sessions/<id>  end one, between transactions (a message
//	                            being stored is finished and answered first)
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "admin.api.lmtp", New: func() caddy.Module { return new(AdminAPI) }}
}

// Routes returns the admin routes.
func (a AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: adminSessionsPath, Handler: caddy.AdminHandlerFunc(a.list)},
		{Pattern: adminSessionsPath + "/", Handler: caddy.AdminHandlerFunc(a.end)},
	}
}

// sessionView is one session as the admin API shows it.
type sessionView struct {
	ID                  uint64    `json:"id"`
	Remote              string    `json:"remote"`
	HELO                string    `json:"helo,omitempty"`
	TLS                 bool      `json:"tls"`
	State               string    `json:"state"`
	Started             time.Time `json:"started"`
	Messages            int64     `json:"messages"`
	RecipientsDelivered int64     `json:"recipients_delivered"`
	RecipientsFailed    int64     `json:"recipients_failed"`
	BytesReceived       int64     `json:"bytes_received"`
	BytesSent           int64     `json:"bytes_sent"`
	Draining            bool      `json:"draining,omitempty"`
}

// phaseNames are the states the admin API shows.
var phaseNames = map[int32]string{phaseIdle: "idle", phaseReceiving: "receiving", phaseDelivering: "delivering"}

// views lists the live sessions of r, oldest first.
func views(r *sessions.Registry[*liveSession]) []sessionView {
	all := r.Of(nil)
	out := make([]sessionView, 0, len(all))
	for _, s := range all {
		c := s.c
		helo, _ := c.helo.Load().(string)
		out = append(out, sessionView{
			ID: c.id, Remote: c.remote, HELO: helo, TLS: c.secure.Load(), State: phaseNames[c.phase.Load()],
			Started: c.started, Messages: c.messages.Load(), RecipientsDelivered: c.delivered.Load(),
			RecipientsFailed: c.failed.Load(), BytesReceived: c.bytesIn.Load(), BytesSent: c.bytesOut.Load(),
			Draining: c.draining.Load(),
		})
	}
	return out
}

// list answers GET /lmtp/sessions.
func (AdminAPI) list(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(views(liveSessions))
}

// end answers DELETE /lmtp/sessions/<id>.
func (AdminAPI) end(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodDelete {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(r.URL.Path, adminSessionsPath+"/"), 10, 64)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("invalid session id")}
	}
	s, ok := liveSessions.Get(id)
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no session %d", id)}
	}
	s.Shutdown(endAdmin)
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{"id": id, "ending": true})
}

// Interface guards
var _ caddy.AdminRouter = AdminAPI{}
