package sql

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the authenticator from Caddyfile tokens.
// Syntax:
//
//	sql [<dsn>] {
//		dsn     <dsn>
//		query   "SELECT password FROM users WHERE username = $1"
//		timeout <duration>
//	}
//
// The DSN may be given on the same line or in the block, not both.
func (s *SQL) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		s.DSN = d.Val()
		if d.NextArg() {
			return d.Errf("sql: unexpected argument %q after the dsn", d.Val())
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch dir := d.Val(); dir {
		case "dsn", "query":
			if (dir == "dsn" && s.DSN != "") || (dir == "query" && s.Query != "") {
				return d.Errf("sql: %s: already set", dir)
			}
			if !d.NextArg() {
				return d.Errf("sql: %s: missing value", dir)
			}
			v := d.Val()
			if d.NextArg() {
				return d.Errf("sql: %s: unexpected argument %q (quote a query that has spaces)", dir, d.Val())
			}
			if dir == "dsn" {
				s.DSN = v
			} else {
				s.Query = v
			}
		case "timeout":
			if !d.NextArg() {
				return d.Err("sql: timeout: missing duration")
			}
			v, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("sql: timeout: %v", err)
			}
			if v <= 0 {
				return d.Errf("sql: timeout: %s must be positive", d.Val())
			}
			if d.NextArg() {
				return d.Errf("sql: timeout: unexpected argument %q", d.Val())
			}
			s.Timeout = caddy.Duration(v)
		default:
			return d.Errf("sql: unrecognized subdirective %q", dir)
		}
	}
	if s.DSN == "" {
		return d.Err("sql: dsn is required")
	}
	return nil
}

var _ caddyfile.Unmarshaler = (*SQL)(nil)
