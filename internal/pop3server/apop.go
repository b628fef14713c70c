package pop3server

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// lastStamp makes APOP timestamps unique within the process even when the
// clock does not move between two greetings.
var lastStamp atomic.Int64

// apopTimestamp returns a fresh greeting timestamp, <pid.nanotime@host>
// (RFC 1939 section 7): never the same twice in this process.
func apopTimestamp(hostname string) string {
	now := time.Now().UnixNano()
	for {
		last := lastStamp.Load()
		n := max(now, last+1)
		if lastStamp.CompareAndSwap(last, n) {
			return "<" + strconv.Itoa(os.Getpid()) + "." + strconv.FormatInt(n, 10) + "@" + hostname + ">"
		}
	}
}

// cmdAPOP logs in with APOP name digest, where digest is the MD5 of the
// greeting's timestamp followed by the user's secret, in lower-case hex.
// APOP sends no reusable secret, so it is accepted on clear connections.
func (s *Session) cmdAPOP(ctx context.Context, cmd command) error {
	if s.apopStamp == "" {
		return s.reject("APOP is not available on this server")
	}
	s.userArg = ""
	user, digest := string(cmd.args()[0]), string(cmd.args()[1])
	return s.login(ctx, auth.APOPLogin(s.srv.cfg.Secrets, s.apopStamp, user, digest), auth.MechanismAPOP)
}
