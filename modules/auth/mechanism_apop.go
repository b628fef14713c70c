package auth

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
)

// APOPLogin is the login of `APOP user digest`: digest is the MD5 of the
// greeting's timestamp followed by the user's secret, in hex. It is
// compared in constant time, and an unknown user costs the same as a
// wrong digest. secrets must be non-nil (APOP is only offered when the
// authenticator backs it).
func APOPLogin(secrets SecretLookup, timestamp, user, digest string) Login {
	return Login{User: user, Check: func(ctx context.Context) (bool, error) {
		secret, ok, err := secrets.PlainSecret(ctx, user)
		if err != nil {
			return false, err
		}
		sum := md5.Sum([]byte(timestamp + secret))
		want := make([]byte, hex.EncodedLen(len(sum)))
		hex.Encode(want, sum[:])
		match := subtle.ConstantTimeCompare(want, bytes.ToLower([]byte(digest))) == 1
		return ok && match, nil
	}}
}
