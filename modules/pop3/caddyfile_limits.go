package pop3

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
)

// off is the Caddyfile value that turns a limit off.
const off = "off"

// unmarshalLimit parses the subdirective at the dispenser's cursor if it
// is one of the limits, and reports whether it was. Syntax:
//
//	max_line_length <octets>
//	max_auth_line_length <octets>
//	auth_timeout <duration>|off
//	max_connections <n>|off
//	max_connections_per_ip <n>|off
//	max_connections_per_user <n>|off
//	max_errors <n>
//	auth_failure_delay <duration>|off
//	auth_failure_limit <n>|off [<window>]
//	auth_user_failure_limit <n>|off
//	auth_failure_window <duration>
//	auth_lockout <duration>
//	trusted_networks <cidr|address>...
//	login_delay <duration>
//	expire <days>|never
func (l *Limits) unmarshalLimit(d *caddyfile.Dispenser) (bool, error) {
	directive := d.Val()
	var err error
	switch directive {
	case "max_line_length":
		l.MaxLineLength, err = countArg(d, false)
	case "max_auth_line_length":
		l.MaxAuthLineLength, err = countArg(d, false)
	case "max_connections":
		l.MaxConnections, err = countArg(d, true)
	case "max_connections_per_ip":
		l.MaxConnectionsPerIP, err = countArg(d, true)
	case "max_connections_per_user":
		l.MaxConnectionsPerUser, err = countArg(d, true)
	case "max_errors":
		l.MaxErrors, err = countArg(d, false)
	case "auth_user_failure_limit":
		l.AuthUserFailureLimit, err = countArg(d, true)
	case "auth_failure_limit":
		if l.AuthFailureLimit, err = count(d, true); err != nil {
			return true, err
		}
		if d.NextArg() {
			if l.AuthFailureWindow, err = durationValue(d, directive, false); err != nil {
				return true, err
			}
		}
		err = noMoreArgs(d)
	case "auth_timeout":
		l.AuthTimeout, err = durationArg(d, true)
	case "auth_failure_delay":
		l.AuthFailureDelay, err = durationArg(d, true)
	case "auth_failure_window":
		l.AuthFailureWindow, err = durationArg(d, false)
	case "auth_lockout":
		l.AuthLockout, err = durationArg(d, false)
	case "login_delay":
		l.LoginDelay, err = durationArg(d, false)
	case "trusted_networks":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.Errf("trusted_networks: expected at least one network (CIDR or address)")
		}
		for _, a := range args {
			if _, perr := clientid.ParseNetwork(a); perr != nil {
				return true, d.Errf("trusted_networks: %v", perr)
			}
		}
		l.TrustedNetworks = append(l.TrustedNetworks, args...)
	case "expire":
		if !d.NextArg() {
			return true, d.ArgErr()
		}
		if _, perr := parseExpire(d.Val()); perr != nil {
			return true, d.Errf("expire: %v", perr)
		}
		l.Expire = d.Val()
		err = noMoreArgs(d)
	default:
		return false, nil
	}
	return true, err
}

// countArg reads the single count argument of the current directive: a
// positive integer, or `off` (a negative value: no limit) when allowOff.
func countArg(d *caddyfile.Dispenser, allowOff bool) (int, error) {
	n, err := count(d, allowOff)
	if err != nil {
		return 0, err
	}
	return n, noMoreArgs(d)
}

// count reads a count argument without checking what follows.
func count(d *caddyfile.Dispenser, allowOff bool) (int, error) {
	directive := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	if allowOff && d.Val() == off {
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

// durationArg reads the single duration argument of the current
// directive. With allowOff, `off` and 0 turn the setting off (a negative
// value); otherwise the duration must be positive.
func durationArg(d *caddyfile.Dispenser, allowOff bool) (caddy.Duration, error) {
	directive := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	v, err := durationValue(d, directive, allowOff)
	if err != nil {
		return 0, err
	}
	return v, noMoreArgs(d)
}

// durationValue parses the current token as a duration for directive (see
// durationArg); login_delay alone accepts 0.
func durationValue(d *caddyfile.Dispenser, directive string, allowOff bool) (caddy.Duration, error) {
	if allowOff && d.Val() == off {
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
	case dur == 0 && directive != "login_delay":
		return 0, d.Errf("%s: the duration must be positive", directive)
	}
	return caddy.Duration(dur), nil
}

// noMoreArgs fails if the current line has another argument.
func noMoreArgs(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}
