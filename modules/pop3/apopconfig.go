package pop3

import (
	"fmt"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

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
