package pop3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// mechanismAPOP names the APOP command where login takes a mechanism.
const mechanismAPOP = "APOP"

// provisionAPOP checks that an APOP config has an authenticator that can
// check APOP digests.
func (h *Handler) provisionAPOP(authMod any) error {
	if !h.APOP {
		return nil
	}
	secrets, ok := authMod.(auth.SecretLookup)
	if !ok {
		return fmt.Errorf("apop: the authenticator (%T) cannot check APOP digests: it keeps no plain-text secrets; remove `apop` or use an authenticator that does (passwd_file with {PLAIN} passwords)", authMod)
	}
	h.secrets = secrets
	return nil
}

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
func (s *session) cmdAPOP(ctx context.Context, cmd command) error {
	if s.apopStamp == "" {
		return s.reject("APOP is not available on this server")
	}
	s.userArg = ""
	return s.login(ctx, string(cmd.args[0]), string(cmd.args[1]), mechanismAPOP)
}

// verify checks credentials for login: an APOP digest (password is the
// digest) against the user's plain-text secret, anything else against the
// authenticator.
func (s *session) verify(ctx context.Context, user, password, mechanism string) (bool, error) {
	if mechanism == mechanismAPOP {
		return s.checkAPOP(ctx, user, password)
	}
	return s.h.auth.Authenticate(ctx, user, password)
}

// checkAPOP compares digest with the one the user's secret makes, in
// constant time; an unknown user costs the same as a wrong digest.
func (s *session) checkAPOP(ctx context.Context, user, digest string) (bool, error) {
	secret, ok, err := s.h.secrets.PlainSecret(ctx, user)
	if err != nil {
		return false, err
	}
	sum := md5.Sum([]byte(s.apopStamp + secret))
	want := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(want, sum[:])
	match := subtle.ConstantTimeCompare(want, bytes.ToLower([]byte(digest))) == 1
	return ok && match, nil
}
