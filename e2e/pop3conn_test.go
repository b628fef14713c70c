//go:build linux

package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
)

// ioTimeout bounds every read and write of a raw POP3 connection.
const ioTimeout = 30 * time.Second

// dialPOP3 connects to addr and checks the +OK greeting, for the checks
// that need no client program (logging in with a freshly hashed
// password).
func dialPOP3(t *testing.T, addr string) *pop3test.Client {
	t.Helper()
	return pop3test.DialTimeout(t, addr, ioTimeout)
}

// newPOP3 is a POP3 client over c, with ioTimeout for every read and
// write; it reads nothing.
func newPOP3(t *testing.T, c net.Conn) *pop3test.Client {
	t.Helper()
	p := pop3test.New(t, c)
	p.SetTimeout(ioTimeout)
	return p
}

// lfText is the text of a multi-line body's lines with LF line endings.
func lfText(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\n")
	}
	return b.String()
}
