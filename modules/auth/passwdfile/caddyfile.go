package passwdfile

import (
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the module from Caddyfile tokens. Syntax:
//
//	passwd_file [scheme=<SCHEME>] <path> [scheme=<SCHEME>]
//
// or
//
//	passwd_file {
//		path <path>
//		scheme <SCHEME>
//	}
//
// so that Dovecot's `args = scheme=CRYPT /etc/mail/%d/passwd` can be
// copied as it is.
func (p *PasswdFile) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name

	for d.NextArg() {
		if v, ok := strings.CutPrefix(d.Val(), "scheme="); ok {
			if err := p.setScheme(d, v); err != nil {
				return err
			}
			continue
		}
		if strings.HasPrefix(d.Val(), "username_format=") {
			return d.Errf("passwd_file: %q is not supported: the file must hold the whole login name (Dovecot's default username_format=%%u)", d.Val())
		}
		if p.Path != "" {
			return d.Errf("passwd_file: unexpected argument %q (syntax: passwd_file <path> [scheme=<SCHEME>])", d.Val())
		}
		p.Path = d.Val()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "path":
			if p.Path != "" {
				return d.Err("passwd_file: path given twice")
			}
			if !d.NextArg() {
				return d.Err("passwd_file: path: missing file name")
			}
			p.Path = d.Val()
			if d.NextArg() {
				return d.Errf("passwd_file: path: unexpected argument %q", d.Val())
			}
		case "scheme":
			if !d.NextArg() {
				return d.Err("passwd_file: scheme: missing scheme name")
			}
			if err := p.setScheme(d, d.Val()); err != nil {
				return err
			}
			if d.NextArg() {
				return d.Errf("passwd_file: scheme: unexpected argument %q", d.Val())
			}
		default:
			return d.Errf("passwd_file: unknown subdirective %q (want path or scheme)", d.Val())
		}
	}
	if p.Path == "" {
		return d.Err("passwd_file: missing path (syntax: passwd_file <path> [scheme=<SCHEME>])")
	}
	return nil
}

// setScheme checks and sets the default scheme, once.
func (p *PasswdFile) setScheme(d *caddyfile.Dispenser, scheme string) error {
	if p.DefaultScheme != "" {
		return d.Err("passwd_file: scheme given twice")
	}
	s, err := CheckScheme(scheme)
	if err != nil {
		return d.Errf("passwd_file: scheme: %v", err)
	}
	p.DefaultScheme = s
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*PasswdFile)(nil)
