package lmtp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestAdminAPI(t *testing.T) {
	h := &Handler{sessions: liveSessions} // the registry the API reads
	addr := testServer(t, h, &fakeStore{})
	cl := dial(t, addr)
	cl.greet()
	expect(t, "MAIL", cl.cmd("MAIL FROM:<s@x.test>"), "250 ")

	api := AdminAPI{}
	rec := httptest.NewRecorder()
	if err := api.list(rec, httptest.NewRequest(http.MethodGet, adminSessionsPath, nil)); err != nil {
		t.Fatal(err)
	}
	var views []sessionView
	if err := json.Unmarshal(rec.Body.Bytes(), &views); err != nil {
		t.Fatalf("%s: %v", rec.Body, err)
	}
	if len(views) != 1 || views[0].HELO != "mta.test" || views[0].State != "idle" || views[0].Remote != cl.c.LocalAddr().String() {
		t.Fatalf("sessions = %+v, want the one session, idle, from %s", views, cl.c.LocalAddr())
	}

	tests := []struct {
		method, path string
		status       int // 0: success
	}{
		{http.MethodDelete, fmt.Sprintf("%s/%d", adminSessionsPath, views[0].ID+1000), http.StatusNotFound},
		{http.MethodDelete, adminSessionsPath + "/x", http.StatusBadRequest},
		{http.MethodGet, fmt.Sprintf("%s/%d", adminSessionsPath, views[0].ID), http.StatusMethodNotAllowed},
		{http.MethodDelete, fmt.Sprintf("%s/%d", adminSessionsPath, views[0].ID), 0},
	}
	for _, tt := range tests {
		err := api.end(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
		var apiErr caddy.APIError
		switch {
		case tt.status == 0 && err != nil:
			t.Errorf("%s %s: %v", tt.method, tt.path, err)
		case tt.status != 0 && (!errors.As(err, &apiErr) || apiErr.HTTPStatus != tt.status):
			t.Errorf("%s %s: %v, want status %d", tt.method, tt.path, err, tt.status)
		}
	}
	// The session ended through the API is closed.
	if line, err := cl.r.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Fatalf("got %q after DELETE, want the connection closed", line)
	}
}
