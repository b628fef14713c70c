package pop3cmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNeutraliseMarkers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Subject: x\n\nbody\n", "Subject: x\n\nbody\n"},
		{"X-Caddy-POP3: uidl=forged; length=3\nSubject: x\n\nabc",
			"X-Caddy-POP3-Forged: uidl=forged; length=3\nSubject: x\n\nabc"},
		{"Subject: x\r\nx-caddy-pop3 : uidl=a\r\n\r\nX-Caddy-POP3: in the body\r\n",
			"Subject: x\r\nX-Caddy-POP3-Forged: uidl=a\r\n\r\nX-Caddy-POP3: in the body\r\n"},
		{"X-Caddy-POP3-Other: kept\n\n", "X-Caddy-POP3-Other: kept\n\n"},
		{"X-Caddy-POP3: no newline at all", "X-Caddy-POP3-Forged: no newline at all"},
	}
	for _, tt := range tests {
		if got := string(neutraliseMarkers([]byte(tt.in))); got != tt.want {
			t.Errorf("neutraliseMarkers(%q)\n= %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// TestDeliverNeutralisesMarker delivers mail whose first header field is
// a forged marker line: in the spool it must not follow the From_ line as
// X-Caddy-POP3 (another reader, or an older caddy-pop3, would take its
// UIDL), and the client must be served the field, renamed.
func TestDeliverNeutralisesMarker(t *testing.T) {
	dir := t.TempDir()
	config := writeCaddyfile(t, dir, "mbox")
	in := "X-Caddy-POP3: uidl=chosen-by-the-sender; length=5\nSubject: hi\n\nbody\n"
	code, err := deliver(context.Background(), deliverOptions{Config: config, User: "alice"}, strings.NewReader(in))
	if code != ExitOK || err != nil {
		t.Fatalf("deliver: %d, %v", code, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "X-Caddy-POP3: uidl=chosen-by-the-sender") {
		t.Errorf("the sender's marker line is in the spool as it came: %q", raw)
	}
	if !strings.Contains(string(raw), "\nX-Caddy-POP3-Forged: uidl=chosen-by-the-sender; length=5\nSubject: hi\n") {
		t.Errorf("the sender's field is not kept, renamed: %q", raw)
	}
}
