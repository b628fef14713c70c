package maildir

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

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
	if err := storage.UnmarshalPathArg(d, &m.Path); err != nil {
		return err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "path":
			if err := storage.UnmarshalPathDirective(d, &m.Path); err != nil {
				return err
			}
		default:
			return d.Errf("maildir: unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}
