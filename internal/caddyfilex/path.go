package caddyfilex

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// PathArg reads the optional path on a storage module's own line
// (`maildir /var/mail/{pop3.user}/Maildir`): d is on the module name.
func PathArg(d *caddyfile.Dispenser, path *string) error {
	module := d.Val()
	if !d.NextArg() {
		return nil
	}
	*path = d.Val()
	if d.NextArg() {
		return d.Errf("%s: unexpected argument %q after the path", module, d.Val())
	}
	return nil
}

// PathDirective reads a `path <template>` subdirective: d is on
// "path". The path may be given only once, on the module's line or here.
func PathDirective(d *caddyfile.Dispenser, path *string) error {
	if *path != "" {
		return d.Err("path: already set")
	}
	if !d.NextArg() {
		return d.Err("path: missing value")
	}
	*path = d.Val()
	if d.NextArg() {
		return d.Errf("path: unexpected argument %q", d.Val())
	}
	if d.NextBlock(d.Nesting()) {
		return d.Err("path: takes no block")
	}
	return nil
}
