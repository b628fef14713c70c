package postgres

import (
	"github.com/caddy-pop3/caddy-pop3/internal/caddyfilex"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the backend from Caddyfile tokens. Syntax:
//
//	postgres [<dsn>] {
//		dsn        <dsn>
//		lease_time <duration>
//		timeout    <duration>
//		content_cache_size <size>|off
//	}
//
// The DSN may be given on the same line or in the block, not both.
func (p *Postgres) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if d.NextArg() {
		p.DSN = d.Val()
		if d.NextArg() {
			return d.Errf("postgres: unexpected argument %q after the dsn", d.Val())
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch dir := d.Val(); dir {
		case "dsn":
			if p.DSN != "" {
				return d.Err("postgres: dsn: already set")
			}
			if !d.NextArg() {
				return d.Err("postgres: dsn: missing value")
			}
			p.DSN = d.Val()
			if d.NextArg() {
				return d.Errf("postgres: dsn: unexpected argument %q", d.Val())
			}
		case "lease_time", "timeout":
			v, err := durationArg(d, dir)
			if err != nil {
				return err
			}
			if dir == "lease_time" {
				p.LeaseTime = v
			} else {
				p.Timeout = v
			}
		case "content_cache_size":
			if p.ContentCacheSize != 0 {
				return d.Err("postgres: content_cache_size: already set")
			}
			n, err := caddyfilex.SizeOrOffArg(d, "postgres: ")
			if err != nil {
				return err
			}
			p.ContentCacheSize = n
		default:
			return d.Errf("postgres: unrecognized subdirective %q", dir)
		}
	}
	if p.DSN == "" {
		return d.Err("postgres: dsn is required")
	}
	return nil
}

// durationArg reads the one positive duration argument of directive dir.
func durationArg(d *caddyfile.Dispenser, dir string) (caddy.Duration, error) {
	if !d.NextArg() {
		return 0, d.Errf("postgres: %s: missing duration", dir)
	}
	v, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return 0, d.Errf("postgres: %s: %v", dir, err)
	}
	if v <= 0 {
		return 0, d.Errf("postgres: %s: %s must be positive", dir, d.Val())
	}
	if dir == "lease_time" && v < minLeaseTime {
		return 0, d.Errf("postgres: lease_time: %s is too short (at least %s)", d.Val(), minLeaseTime)
	}
	if d.NextArg() {
		return 0, d.Errf("postgres: %s: unexpected argument %q", dir, d.Val())
	}
	return caddy.Duration(v), nil
}
