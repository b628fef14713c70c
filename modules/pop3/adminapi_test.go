package pop3

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3server"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddyserver/caddy/v2"
)

// adminRequest runs one request through the admin routes of AdminAPI, the
// way Caddy's admin endpoint does (pattern match, then APIError status),
// and returns the status and body.
func adminRequest(t *testing.T, method, path string) (int, []byte) {
	t.Helper()
	mux := http.NewServeMux()
	for _, route := range new(AdminAPI).Routes() {
		mux.Handle(route.Pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := route.Handler.ServeHTTP(w, r); err != nil {
				var apiErr caddy.APIError
				if !errors.As(err, &apiErr) {
					t.Errorf("%s %s: error that is not an APIError: %v", method, path, err)
					apiErr.HTTPStatus = http.StatusInternalServerError
				}
				w.WriteHeader(apiErr.HTTPStatus)
			}
		}))
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.Bytes()
}

// listSessions returns GET /pop3/sessions.
func listSessions(t *testing.T) []pop3server.SessionView {
	t.Helper()
	code, body := adminRequest(t, http.MethodGet, adminSessionsPath)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", adminSessionsPath, code, body)
	}
	var views []pop3server.SessionView
	if err := json.Unmarshal(body, &views); err != nil {
		t.Fatalf("GET %s: %v: %s", adminSessionsPath, err, body)
	}
	return views
}

// sessionFrom finds the session of the client whose local address is
// remote.
func sessionFrom(t *testing.T, views []pop3server.SessionView, remote string) pop3server.SessionView {
	t.Helper()
	for _, v := range views {
		if v.Remote == remote {
			return v
		}
	}
	t.Fatalf("no session from %s in %+v", remote, views)
	return pop3server.SessionView{}
}

func TestAdminAPIListAndEnd(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "Subject: a\n\nbody\n", "b\n")
	alice := ts.dial(t)
	alice.Login("alice", "secret pw")
	alice.Cmd("RETR 1")
	alice.Multi()
	alice.Cmd("DELE 2")
	anon := ts.dial(t)

	views := listSessions(t)
	if len(views) != 2 {
		t.Fatalf("listed %d sessions, want 2: %+v", len(views), views)
	}
	if views[0].ID >= views[1].ID {
		t.Errorf("sessions not listed oldest first: %+v", views)
	}
	a := sessionFrom(t, views, alice.Conn().LocalAddr().String())
	if a.User != "alice" || a.State != "transaction" || a.TLS || a.MessagesRetrieved != 1 || a.BytesRetrieved != crlfSize([]byte("Subject: a\n\nbody\n")) || a.BytesSent == 0 || a.BytesReceived == 0 || a.Started.IsZero() || a.Draining || a.Ending {
		t.Errorf("alice's session: %+v", a)
	}
	pending := sessionFrom(t, views, anon.Conn().LocalAddr().String())
	if pending.User != "" || pending.State != "authorization" {
		t.Errorf("session before login: %+v", pending)
	}

	path := adminSessionsPath + "/" + strconv.FormatUint(a.ID, 10)
	code, body := adminRequest(t, http.MethodGet, path)
	var one pop3server.SessionView
	if code != http.StatusOK || json.Unmarshal(body, &one) != nil || one.ID != a.ID || one.User != "alice" {
		t.Errorf("GET %s: %d %s", path, code, body)
	}

	code, body = adminRequest(t, http.MethodDelete, path)
	var res endResult
	if code != http.StatusOK || json.Unmarshal(body, &res) != nil || res.ID != a.ID || !res.Ended {
		t.Errorf("DELETE %s: %d %s", path, code, body)
	}
	pop3test.ExpectPrefix(t, "ended session", alice.ReadLine(), "-ERR [SYS/TEMP] Session ended by the administrator")
	if n := ts.store.Count("alice"); n != 2 {
		t.Errorf("%d messages after the admin ended a session with DELE 2, want 2", n)
	}
	// The session leaves the registry just after its last write.
	waitFor(t, "the ended session leaves the list", func() bool {
		views = listSessions(t)
		return len(views) == 1
	})
	if len(views) != 1 || views[0].ID != pending.ID {
		t.Errorf("after ending alice's session, listed %+v", views)
	}
	if code, _ := adminRequest(t, http.MethodGet, path); code != http.StatusNotFound {
		t.Errorf("GET of an ended session: %d, want 404", code)
	}
	pop3test.ExpectPrefix(t, "other session", anon.Cmd("CAPA"), "+OK")
}

func TestAdminAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{http.MethodPost, adminSessionsPath, http.StatusMethodNotAllowed},
		{http.MethodDelete, adminSessionsPath, http.StatusMethodNotAllowed},
		{http.MethodGet, adminSessionsPath + "/abc", http.StatusNotFound},
		{http.MethodGet, adminSessionsPath + "/", http.StatusNotFound},
		{http.MethodDelete, adminSessionsPath + "/18446744073709551615", http.StatusNotFound},
		{http.MethodGet, adminSessionsPath + "/1/2", http.StatusNotFound},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if code, body := adminRequest(t, tc.method, tc.path); code != tc.code {
				t.Errorf("status %d, want %d: %s", code, tc.code, body)
			}
		})
	}
}

// TestAdminAPIConcurrentReads lists sessions while they run commands and
// change state; with -race it shows the reads are safe.
func TestAdminAPIConcurrentReads(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Add("alice", "Subject: a\n\nbody\n")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Not listSessions: t.Fatal belongs to the test's goroutine.
			code, body := adminRequest(t, http.MethodGet, adminSessionsPath)
			var views []pop3server.SessionView
			if err := json.Unmarshal(body, &views); code != http.StatusOK || err != nil {
				t.Errorf("GET %s: %d %v", adminSessionsPath, code, err)
				return
			}
			for _, v := range views {
				if v.State == "" || v.Remote == "" {
					t.Errorf("incomplete session view: %+v", v)
				}
			}
		}
	}()
	for range 20 {
		c := ts.dial(t)
		c.Login("alice", "secret pw")
		c.Cmd("RETR 1")
		c.Multi()
		c.Cmd("QUIT")
	}
	close(stop)
	wg.Wait()
}

func TestAdminAPIModule(t *testing.T) {
	mod, err := caddy.GetModule("admin.api.pop3")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mod.New().(caddy.AdminRouter); !ok {
		t.Fatalf("admin.api.pop3 is a %T, not an admin router", mod.New())
	}
	var patterns []string
	for _, r := range new(AdminAPI).Routes() {
		patterns = append(patterns, r.Pattern)
	}
	if got := strings.Join(patterns, " "); got != "/pop3/sessions /pop3/sessions/" {
		t.Errorf("routes %q", got)
	}
}

func TestAdminAPIShowsSTLS(t *testing.T) {
	ts := newTestServer(t, withSTLS(t))
	c := ts.dial(t)
	local := c.Conn().LocalAddr().String()
	if v := sessionFrom(t, listSessions(t), local); v.TLS {
		t.Errorf("session listed as TLS before STLS: %+v", v)
	}
	c.StartTLS(clientTLS(t))
	c.Login("alice", "secret pw")
	v := sessionFrom(t, listSessions(t), local)
	if !v.TLS || v.User != "alice" {
		t.Errorf("session after STLS and login: %+v", v)
	}
	// The octets of the TLS handshake went through the counted connection.
	if v.BytesReceived < 100 || v.BytesSent < 100 {
		t.Errorf("session after a TLS handshake counted %d octets in, %d out", v.BytesReceived, v.BytesSent)
	}
	c.Cmd("QUIT")
}
