package maildir

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// UnmarshalCaddyfile sets up the backend from Caddyfile tokens. Syntax:
//
//	maildir [<path>] {
//		path <path>
//	}
//
// The path may be given on the same line or in the block, not both. With
// neither, the default path is used.
func (m *Maildir) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		m.Path = d.Val()
		if d.NextArg() {
			return d.Errf("maildir: unexpected argument %q after the path", d.Val())
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "path":
			if m.Path != "" {
				return d.Err("path: already set")
			}
			if !d.NextArg() {
				return d.Err("path: missing value")
			}
			m.Path = d.Val()
			if d.NextArg() {
				return d.Errf("path: unexpected argument %q", d.Val())
			}
			if d.NextBlock(d.Nesting()) {
				return d.Err("path: takes no block")
			}
		default:
			return d.Errf("maildir: unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}
