package mbox

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-pop3/caddy-pop3/internal/caddyfilex"
	"github.com/caddy-pop3/caddy-pop3/internal/dovecotuidl"
)

// UnmarshalCaddyfile sets up the backend from Caddyfile tokens. Syntax:
//
//	mbox [<path>] {
//		path <path>
//		lock_timeout <duration>
//		uidl_format <dovecot pop3_uidl_format>
//	}
//
// The path may be given on the same line or in the block, not both. With
// neither, the default path (/var/mail/{pop3.user}) is used.
func (m *Mbox) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
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
		case "lock_timeout":
			if m.LockTimeout != 0 {
				return d.Err("lock_timeout: already set")
			}
			if !d.NextArg() {
				return d.Err("lock_timeout: missing value")
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("lock_timeout: %v", err)
			}
			if dur <= 0 {
				return d.Errf("lock_timeout: %s is not a positive duration", d.Val())
			}
			m.LockTimeout = caddy.Duration(dur)
			if d.NextArg() {
				return d.Errf("lock_timeout: unexpected argument %q", d.Val())
			}
			if d.NextBlock(d.Nesting()) {
				return d.Err("lock_timeout: takes no block")
			}
		case "uidl_format":
			if m.UIDLFormat != "" {
				return d.Err("uidl_format: already set")
			}
			if !d.NextArg() {
				return d.Err("uidl_format: missing value")
			}
			m.UIDLFormat = d.Val()
			if _, err := dovecotuidl.Parse(m.UIDLFormat, mboxVars); err != nil {
				return d.Errf("uidl_format: %v", err)
			}
			if d.NextArg() {
				return d.Errf("uidl_format: unexpected argument %q", d.Val())
			}
		default:
			return d.Errf("mbox: unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}
