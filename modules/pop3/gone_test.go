package pop3

import (
	"errors"
	"fmt"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/memstore"
)

// TestSessionMessageGone checks that a message another program removed
// during the session is answered with -ERR [SYS/PERM], which tells the
// client not to try again, while a passing storage failure stays
// [SYS/TEMP]; the session goes on either way.
func TestSessionMessageGone(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"gone", fmt.Errorf("maildir: message 1 was removed by another program: %w", storage.ErrGone), "-ERR [SYS/PERM]"},
		{"temporary", errors.New("input/output error"), "-ERR [SYS/TEMP]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			ts.store.Add("alice", "Subject: a\n\nbody\n")
			ts.store.SetFaults(memstore.Faults{OpenErr: tt.err})
			c := ts.dial(t)
			c.Login("alice", "secret pw")
			pop3test.ExpectPrefix(t, "RETR", c.Cmd("RETR 1"), tt.want)
			pop3test.ExpectPrefix(t, "TOP", c.Cmd("TOP 1 0"), tt.want)
			pop3test.ExpectPrefix(t, "NOOP", c.Cmd("NOOP"), "+OK")
			pop3test.ExpectPrefix(t, "QUIT", c.Cmd("QUIT"), "+OK")
		})
	}
}
