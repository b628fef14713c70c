package pop3

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/guard"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// withLimits sets the test server's limits and gives it registries of its
// own, so that tests do not share connection counts or lockouts with each
// other or with the process.
func withLimits(l Limits) func(*testServer) {
	return func(ts *testServer) {
		ts.h.Limits = l
		ts.h.Limits.conns = guard.NewConns()
		ts.h.Limits.failures = guard.NewFailures(guard.MaxTracked)
		ts.h.Limits.logins = guard.NewLogins()
		ts.h.Limits.known = guard.NewKnown(guard.MaxKnownUsers)
		if err := ts.h.Limits.provision(); err != nil {
			panic(err)
		}
	}
}

// remoteClients makes the sessions treat their clients as remote (not
// loopback) and allow plaintext logins, as behind TLS.
func remoteClients(ts *testServer) {
	ts.loopback = false
	ts.h.AllowInsecureAuth = true
}

// pauseLog records the failure delays a handler asks for instead of
// sleeping them.
type pauseLog struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (p *pauseLog) pause(ctx context.Context, d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delays = append(p.delays, d)
	return ctx.Err() == nil
}

func (p *pauseLog) recorded() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.delays...)
}

func TestLimitsDefaults(t *testing.T) {
	l := Limits{openFiles: fixedFiles(0, false)}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"max_line_length", l.maxLineLength(), 255},
		{"max_auth_line_length", l.maxAuthLineLength(), 8192},
		{"auth_timeout", l.authTimeout(), time.Minute},
		{"max_connections", l.maxConnections(), 1000},
		{"max_connections_per_ip", l.maxConnectionsPerIP(), 20},
		{"max_connections_per_user", l.maxConnectionsPerUser(), 10},
		{"max_errors", l.maxErrors(), 20},
		{"auth_failure_delay", l.authFailureDelay(), 2 * time.Second},
		{"lockout policy", l.lockoutPolicy(), guard.LockoutPolicy{IPLimit: 10, UserLimit: 30, Window: 5 * time.Minute, Lockout: 15 * time.Minute}},
	} {
		if tc.got != tc.want {
			t.Errorf("default %s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	off := Limits{AuthTimeout: -1, MaxConnections: -1, MaxConnectionsPerIP: -1, MaxConnectionsPerUser: -1, AuthFailureDelay: -1, AuthFailureLimit: -1, AuthUserFailureLimit: -1}
	if off.authTimeout() != 0 || off.maxConnections() != 0 || off.maxConnectionsPerIP() != 0 || off.maxConnectionsPerUser() != 0 || off.authFailureDelay() != 0 {
		t.Errorf("negative settings do not turn limits off: %+v", off)
	}
	if p := off.lockoutPolicy(); p.IPLimit != 0 || p.UserLimit != 0 {
		t.Errorf("negative failure limits do not turn lockouts off: %+v", p)
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  Limits
		wantErr string // prefix; "" for valid
	}{
		{"zero is defaults", Limits{}, ""},
		{"rfc minimum line", Limits{MaxLineLength: 255}, ""},
		{"short line", Limits{MaxLineLength: 100}, "max_line_length:"},
		{"huge line", Limits{MaxLineLength: 1 << 20}, "max_line_length:"},
		{"auth line below command line", Limits{MaxLineLength: 1000, MaxAuthLineLength: 500}, "max_auth_line_length:"},
		{"auth line ok", Limits{MaxAuthLineLength: 20000}, ""},
		{"auth timeout too short", Limits{AuthTimeout: caddy.Duration(time.Millisecond)}, "auth_timeout:"},
		{"auth timeout off", Limits{AuthTimeout: -1}, ""},
		{"negative max errors", Limits{MaxErrors: -1}, "max_errors:"},
		{"long failure delay", Limits{AuthFailureDelay: caddy.Duration(time.Hour)}, "auth_failure_delay:"},
		{"negative window", Limits{AuthFailureWindow: -1}, "auth_failure_window:"},
		{"negative lockout", Limits{AuthLockout: -1}, "auth_lockout:"},
		{"negative login delay", Limits{LoginDelay: -1}, "login_delay:"},
		{"expire never", Limits{Expire: "never"}, ""},
		{"expire days", Limits{Expire: "30"}, ""},
		{"expire zero", Limits{Expire: "0"}, "expire:"},
		{"expire junk", Limits{Expire: "soon"}, "expire:"},
		{"trusted ok", Limits{TrustedNetworks: []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"}}, ""},
		{"trusted junk", Limits{TrustedNetworks: []string{"10.0.0.0/33"}}, "trusted_networks:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{IdleTimeout: caddy.Duration(DefaultIdleTimeout), Limits: tc.limits}
			err := h.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Errorf("got error %v, want one starting with %q", err, tc.wantErr)
			}
		})
	}
}

func TestLimitsTrustedNetworks(t *testing.T) {
	l := Limits{TrustedNetworks: []string{"10.1.0.0/16", "192.0.2.7", "2001:db8::/32"}}
	if err := l.provision(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"10.1.200.3", true},
		{"10.2.0.1", false},
		{"192.0.2.7", true},
		{"192.0.2.8", false},
		{"::ffff:10.1.0.1", true},
		{"2001:db8:1::1", true},
		{"2001:db9::1", false},
	} {
		if got := l.trustedAddr(mustAddr(t, tc.ip)); got != tc.want {
			t.Errorf("trusted %s: got %v, want %v", tc.ip, got, tc.want)
		}
	}
}

func TestCaddyfileLimits(t *testing.T) {
	input := `pop3 {
		max_line_length 512
		max_auth_line_length 16384
		auth_timeout 30s
		max_connections 500
		max_connections_per_ip off
		max_connections_per_user 3
		max_errors 5
		auth_failure_delay 3s
		auth_failure_limit 8 10m
		auth_user_failure_limit off
		auth_lockout 1h
		trusted_networks 10.0.0.0/8 192.0.2.1
		trusted_networks 2001:db8::/32
		login_delay 5m
		expire never
	}`
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"max_line_length":512,"max_auth_line_length":16384,"auth_timeout":30000000000,` +
		`"max_connections":500,"max_connections_per_ip":-1,"max_connections_per_user":3,"max_errors":5,` +
		`"auth_failure_delay":3000000000,"auth_failure_limit":8,"auth_user_failure_limit":-1,` +
		`"auth_failure_window":600000000000,"auth_lockout":3600000000000,` +
		`"trusted_networks":["10.0.0.0/8","192.0.2.1","2001:db8::/32"],"login_delay":300000000000,"expire":"never"}`
	if string(got) != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}

	for _, tc := range []struct{ line, want string }{
		{"auth_timeout off", `"auth_timeout":-1`},
		{"auth_failure_delay 0", `"auth_failure_delay":-1`},
		{"auth_failure_window 2m", `"auth_failure_window":120000000000`},
		{"auth_failure_limit off", `"auth_failure_limit":-1`},
		{"expire 30", `"expire":"30"`},
		{"login_delay 0", `{}`},
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("pop3 {\n" + tc.line + "\n}")); err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		got, _ := json.Marshal(&h)
		if !strings.Contains(string(got), tc.want) {
			t.Errorf("%s: got %s, want it to contain %s", tc.line, got, tc.want)
		}
	}
}

func TestCaddyfileLimitsErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"max_line_length", "wrong argument count"},
		{"max_line_length abc", "max_line_length: 'abc' is not a positive integer"},
		{"max_line_length 0", "max_line_length: '0' is not a positive integer"},
		{"max_line_length off", "max_line_length: 'off' is not a positive integer"},
		{"max_line_length 300 400", "wrong argument count"},
		{"max_connections -5", "max_connections: '-5' is neither a positive integer nor off"},
		{"max_errors off", "max_errors: 'off' is not a positive integer"},
		{"auth_timeout soon", "auth_timeout: invalid duration 'soon'"},
		{"auth_lockout 0", "auth_lockout: the duration must be positive"},
		{"auth_lockout off", "auth_lockout: invalid duration 'off'"},
		{"auth_failure_limit 5 sometime", "auth_failure_limit: invalid duration 'sometime'"},
		{"auth_failure_limit 5 1m extra", "wrong argument count"},
		{"login_delay -1m", "login_delay: negative duration '-1m'"},
		{"trusted_networks", "trusted_networks: expected at least one network"},
		{"trusted_networks 10.0.0.0/8 example.com", `trusted_networks: invalid address "example.com"`},
		{"expire 0", "expire: \"0\" is neither"},
		{"expire", "wrong argument count"},
		{"max_conections 5", "unrecognized pop3 subdirective 'max_conections'"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("pop3 {\n" + tc.line + "\n}"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got error %v, want one containing %q", tc.line, err, tc.want)
		}
	}
}
