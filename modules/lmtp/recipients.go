package lmtp

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/idna"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Recipients says how the address of RCPT TO becomes the user name whose
// maildrop receives the message. The address is lower-cased (mail systems
// treat mailbox names without regard to case; so do the pop3 handler's
// authenticators with their usual user names), then:
// the whole address is the user name, or with StripDomain only the part
// before '@'. With Domains, addresses in other domains are refused.
type Recipients struct {
	// StripDomain makes the user name the address's local part (the part
	// before '@'): <alice@example.com> is delivered to user "alice".
	// Default: false (the user is "alice@example.com").
	StripDomain bool `json:"strip_domain,omitempty"`

	// Domains are the mail domains served. When set, recipients in any
	// other domain (or with no domain) are refused at RCPT with
	// 550 5.1.2. Default: every domain.
	Domains []string `json:"domains,omitempty"`

	domains map[string]bool
}

// provision prepares the domain set.
func (r *Recipients) provision() error {
	if err := r.validate(); err != nil {
		return err
	}
	if len(r.Domains) > 0 {
		r.domains = make(map[string]bool, len(r.Domains))
		for _, d := range r.Domains {
			r.domains[normalizeDomain(d)] = true
		}
	}
	return nil
}

// validate checks the domain names; errors name the directive.
func (r *Recipients) validate() error {
	for _, d := range r.Domains {
		if d == "" || strings.ContainsAny(d, "@ \t/\\") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
			return fmt.Errorf("domains: %q is not a domain name", d)
		}
		if _, err := idna.Lookup.ToASCII(d); err != nil {
			return fmt.Errorf("domains: %q is not a domain name: %v", d, err)
		}
	}
	return nil
}

// normalizeDomain makes domain names comparable: lower case, A-labels for
// internationalized names when they convert.
func normalizeDomain(d string) string {
	d = strings.ToLower(d)
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		return a
	}
	return d
}

// Replies of RCPT for refused recipients (RFC 3463 enhanced codes).
var (
	errNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	errNotServed  = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 2}, Message: "Domain not served here"}
	errLookup     = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Cannot check the recipient now, try again later"}
)

// user maps a recipient address (as go-smtp parsed it from RCPT TO, without
// the angle brackets) to a user name, or returns the SMTP error that RCPT
// answers with.
func (r *Recipients) user(address string) (string, error) {
	addr := strings.ToLower(address)
	local, domain, hasDomain := cutLast(addr, "@")
	if local == "" || (hasDomain && domain == "") {
		return "", errNoSuchUser
	}
	if r.domains != nil && (!hasDomain || !r.domains[normalizeDomain(domain)]) {
		return "", errNotServed
	}
	user := addr
	if r.StripDomain {
		user = local
	}
	if storage.ValidateUser(user) != nil {
		return "", errNoSuchUser
	}
	return user, nil
}

// cutLast is strings.Cut at the last sep: a quoted local part may itself
// contain '@', the domain never does.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// checkUser asks the authenticator, when there is one, whether user exists.
func checkUser(ctx context.Context, l auth.UserLookup, user string) error {
	if l == nil {
		return nil
	}
	ok, err := l.UserExists(ctx, user)
	switch {
	case err != nil:
		return errLookup
	case !ok:
		return errNoSuchUser
	}
	return nil
}
