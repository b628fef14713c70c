package passwdfile

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the module from Caddyfile tokens. Syntax:
//
//	passwd_file <path>
//
// or
//
//	passwd_file {
//		path <path>
//	}
func (p *PasswdFile) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name

	if d.NextArg() {
		p.Path = d.Val()
	}
	if d.NextArg() {
		return d.Errf("passwd_file: unexpected argument %q (syntax: passwd_file <path>)", d.Val())
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
		default:
			return d.Errf("passwd_file: unknown subdirective %q (want path)", d.Val())
		}
	}
	if p.Path == "" {
		return d.Err("passwd_file: missing path (syntax: passwd_file <path>)")
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*PasswdFile)(nil)
