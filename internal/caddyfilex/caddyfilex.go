// Package caddyfilex has the Caddyfile helpers the mail protocol handlers
// share: guest modules (`storage maildir {...}`), counts and durations
// with `off`, so that every handler reads its settings, and words its
// errors, the same way.
package caddyfilex

import (
	"math"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// Off is the Caddyfile value that turns a limit off.
const Off = "off"

// Guest reads `<directive> <module> [args] { ... }` and returns the
// module's JSON with its name under the "module" key.
func Guest(d *caddyfile.Dispenser, namespace string) ([]byte, error) {
	directive := d.Val()
	if !d.NextArg() {
		return nil, d.Errf("%s: missing module name", directive)
	}
	name := d.Val()
	if _, err := caddy.GetModule(namespace + name); err != nil {
		return nil, d.Errf("%s: unknown module '%s'", directive, name)
	}
	unm, err := caddyfile.UnmarshalModule(d, namespace+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(unm, "module", name, nil), nil
}

// Duration reads a single duration argument.
func Duration(d *caddyfile.Dispenser) (time.Duration, error) {
	directive := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return 0, d.Errf("%s: invalid duration '%s': %v", directive, d.Val(), err)
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return dur, nil
}

// CountArg reads the single Count argument of the current directive: a
// positive integer, or `off` (a negative value: no limit) when allowOff.
func CountArg(d *caddyfile.Dispenser, allowOff bool) (int, error) {
	n, err := Count(d, allowOff)
	if err != nil {
		return 0, err
	}
	return n, NoMoreArgs(d)
}

// Count reads a Count argument without checking what follows.
func Count(d *caddyfile.Dispenser, allowOff bool) (int, error) {
	directive := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	if allowOff && d.Val() == Off {
		return -1, nil
	}
	n, err := strconv.Atoi(d.Val())
	if err != nil || n < 1 {
		if allowOff {
			return 0, d.Errf("%s: '%s' is neither a positive integer nor off", directive, d.Val())
		}
		return 0, d.Errf("%s: '%s' is not a positive integer", directive, d.Val())
	}
	return n, nil
}

// DurationArg reads the single duration argument of the current
// directive. With allowOff, `off` and 0 turn the setting off (a negative
// value); otherwise the duration must be positive.
func DurationArg(d *caddyfile.Dispenser, allowOff bool) (caddy.Duration, error) {
	directive := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	v, err := DurationValue(d, directive, allowOff)
	if err != nil {
		return 0, err
	}
	return v, NoMoreArgs(d)
}

// DurationValue parses the current token as a duration for directive (see
// DurationArg); a directive in ZeroDurationOK accepts 0.
func DurationValue(d *caddyfile.Dispenser, directive string, allowOff bool) (caddy.Duration, error) {
	if allowOff && d.Val() == Off {
		return -1, nil
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return 0, d.Errf("%s: invalid duration '%s': %v", directive, d.Val(), err)
	}
	switch {
	case dur < 0:
		return 0, d.Errf("%s: negative duration '%s'", directive, d.Val())
	case dur == 0 && allowOff:
		return -1, nil
	case dur == 0 && !ZeroDurationOK[directive]:
		return 0, d.Errf("%s: the duration must be positive", directive)
	}
	return caddy.Duration(dur), nil
}

// NoMoreArgs fails if the current line has another argument.
func NoMoreArgs(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// ZeroDurationOK are the directives whose duration may be 0 without
// meaning off (login_delay 0: no delay).
var ZeroDurationOK = map[string]bool{"login_delay": true}

// SizeOrOffArg reads the single argument of the current directive: a size
// in bytes such as 64MiB or 200MB, or `off` (-1). Its errors begin with
// prefix and the directive ("maildir: listing_cache_size: ...").
func SizeOrOffArg(d *caddyfile.Dispenser, prefix string) (int64, error) {
	directive := d.Val()
	if !d.NextArg() {
		return 0, d.Errf("%s%s: missing size", prefix, directive)
	}
	n := int64(-1)
	if d.Val() != Off {
		v, err := humanize.ParseBytes(d.Val())
		if err != nil || v == 0 || v > math.MaxInt64 {
			return 0, d.Errf("%s%s: %q is neither a size such as 64MiB nor off", prefix, directive, d.Val())
		}
		n = int64(v)
	}
	if d.NextArg() {
		return 0, d.Errf("%s%s: unexpected argument %q", prefix, directive, d.Val())
	}
	return n, nil
}
