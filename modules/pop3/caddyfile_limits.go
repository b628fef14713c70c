package pop3

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-pop3/caddy-pop3/internal/caddyfilex"
	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
)

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
		l.MaxLineLength, err = caddyfilex.CountArg(d, false)
	case "max_auth_line_length":
		l.MaxAuthLineLength, err = caddyfilex.CountArg(d, false)
	case "max_connections":
		l.MaxConnections, err = caddyfilex.CountArg(d, true)
	case "max_connections_per_ip":
		l.MaxConnectionsPerIP, err = caddyfilex.CountArg(d, true)
	case "max_connections_per_user":
		l.MaxConnectionsPerUser, err = caddyfilex.CountArg(d, true)
	case "max_errors":
		l.MaxErrors, err = caddyfilex.CountArg(d, false)
	case "auth_user_failure_limit":
		l.AuthUserFailureLimit, err = caddyfilex.CountArg(d, true)
	case "auth_failure_limit":
		if l.AuthFailureLimit, err = caddyfilex.Count(d, true); err != nil {
			return true, err
		}
		if d.NextArg() {
			if l.AuthFailureWindow, err = caddyfilex.DurationValue(d, directive, false); err != nil {
				return true, err
			}
		}
		err = caddyfilex.NoMoreArgs(d)
	case "auth_timeout":
		l.AuthTimeout, err = caddyfilex.DurationArg(d, true)
	case "auth_failure_delay":
		l.AuthFailureDelay, err = caddyfilex.DurationArg(d, true)
	case "auth_failure_window":
		l.AuthFailureWindow, err = caddyfilex.DurationArg(d, false)
	case "auth_lockout":
		l.AuthLockout, err = caddyfilex.DurationArg(d, false)
	case "login_delay":
		l.LoginDelay, err = caddyfilex.DurationArg(d, false)
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
		err = caddyfilex.NoMoreArgs(d)
	default:
		return false, nil
	}
	return true, err
}
