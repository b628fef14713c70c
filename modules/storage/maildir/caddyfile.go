package maildir

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// UnmarshalCaddyfile sets up the backend from Caddyfile tokens. Syntax:
//
//	maildir [<path>] {
//		path <path>
//		uidl_format <dovecot pop3_uidl_format>
//		reuse_xuidl
//	}
//
// The path may be given on the same line or in the block, not both. With
// neither, the default path is used.
func (m *Maildir) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if err := storage.UnmarshalPathArg(d, &m.Path); err != nil {
		return err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "path":
			if err := storage.UnmarshalPathDirective(d, &m.Path); err != nil {
				return err
			}
		case "uidl_format":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if m.UIDLFormat != "" {
				return d.Err("maildir: uidl_format given twice")
			}
			m.UIDLFormat = d.Val()
			if _, err := parseUIDLFormat(m.UIDLFormat); err != nil {
				return d.Errf("maildir: uidl_format: %v", err)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "reuse_xuidl":
			if d.NextArg() {
				return d.Errf("maildir: reuse_xuidl takes no argument, got %q", d.Val())
			}
			m.ReuseXUIDL = true
		default:
			return d.Errf("maildir: unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}
