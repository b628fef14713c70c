package pop3cmd

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/postgres"
)

// TestDeliverPostgres runs `caddy pop3 deliver` against a config whose
// pop3 handler uses pop3.storage.postgres: the message lands in the
// database, and with the database gone the exit code is EX_TEMPFAIL.
func TestDeliverPostgres(t *testing.T) {
	c := pgtest.StartForTest(t, 0)
	if err := c.CreateDatabase(context.Background(), "mail"); err != nil {
		t.Fatal(err)
	}
	dsn := c.DSN("mail")
	dir := t.TempDir()
	config := filepath.Join(dir, "Caddyfile")
	text := `{
	layer4 {
		127.0.0.1:0 {
			route {
				pop3 {
					storage postgres "` + dsn + `"
					auth accounts bcrypt {
						alice $2a$04$4zo4yVjRV6W7RT3ELr3nWO1/CYL2Xn9x9I6dw8Q9.CEBpkLDGCjba
					}
				}
			}
		}
	}
}
`
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	msg := "Subject: into the database\n\nhello\n"
	code, err := deliver(context.Background(), deliverOptions{Config: config, User: "alice@example.com"}, strings.NewReader(msg))
	if code != ExitOK {
		t.Fatalf("deliver: exit %d: %v", code, err)
	}

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	p := &postgres.Postgres{DSN: dsn}
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Cleanup()
	md, err := p.Open(context.Background(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if n := len(md.Messages()); n != 1 {
		t.Fatalf("%d messages in the database, want 1", n)
	}
	r, err := md.Open(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != msg {
		t.Errorf("stored %q (%v), want %q", got, err, msg)
	}

	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	code, err = deliver(context.Background(), deliverOptions{Config: config, User: "alice@example.com"}, strings.NewReader(msg))
	if code != ExitTempFail {
		t.Errorf("deliver with the database down: exit %d (%v), want %d", code, err, ExitTempFail)
	}
}
