package maildir

import (
	"github.com/caddy-pop3/caddy-pop3/internal/caddyfilex"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the backend from Caddyfile tokens. Syntax:
//
//	maildir [<path>] {
//		path <path>
//		uidl_format <dovecot pop3_uidl_format>
//		reuse_xuidl
//		listing_cache_size <size>|off
//	}
//
// The path may be given on the same line or in the block, not both. With
// neither, the default path is used.
func (m *Maildir) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if err := caddyfilex.PathArg(d, &m.Path); err != nil {
		return err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "path":
			if err := caddyfilex.PathDirective(d, &m.Path); err != nil {
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
		case "listing_cache_size":
			if m.ListingCacheSize != 0 {
				return d.Err("maildir: listing_cache_size given twice")
			}
			n, err := caddyfilex.SizeOrOffArg(d, "maildir: ")
			if err != nil {
				return err
			}
			m.ListingCacheSize = n
		default:
			return d.Errf("maildir: unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}
