package pop3

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// fixedFiles returns an open-file limit for tests.
func fixedFiles(n uint64, ok bool) func() (uint64, bool) {
	return func() (uint64, bool) { return n, ok }
}

func TestConnectionsForFiles(t *testing.T) {
	for _, tc := range []struct {
		limit uint64
		want  int
	}{
		{0, 0},
		{256, 0},
		{400, 72},         // 256 spare
		{1024, 384},       // 256 spare
		{65536, 29491},    // 10% spare
		{1048576, 471859}, // 10% spare
		{^uint64(0), (maxCountedFiles - maxCountedFiles/10) / 2},
	} {
		if got := connectionsForFiles(tc.limit); got != tc.want {
			t.Errorf("connectionsForFiles(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}

func TestMaxConnectionsFromFileLimit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  Limits
		want    int
		wantErr []string // substrings of the Validate error; nil: valid
	}{
		{"default from the limit", Limits{openFiles: fixedFiles(1024, true)}, 384, nil},
		{"no limit to read", Limits{openFiles: fixedFiles(0, false)}, DefaultMaxConnections, nil},
		{"configured within", Limits{MaxConnections: 384, openFiles: fixedFiles(1024, true)}, 384, nil},
		{"configured above", Limits{MaxConnections: 5000, openFiles: fixedFiles(1024, true)}, 5000, []string{"max_connections:", "5000", "384", "1024"}},
		{"off is off", Limits{MaxConnections: -1, openFiles: fixedFiles(1024, true)}, 0, nil},
		{"limit too low", Limits{openFiles: fixedFiles(200, true)}, 1, []string{"max_connections:", "200", "256"}},
		{"unknown limit, any value", Limits{MaxConnections: 100000, openFiles: fixedFiles(0, false)}, 100000, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.limits.maxConnections(); got != tc.want {
				t.Errorf("max connections %d, want %d", got, tc.want)
			}
			h := &Handler{IdleTimeout: caddy.Duration(DefaultIdleTimeout), Limits: tc.limits}
			err := h.Validate()
			if tc.wantErr == nil {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one with %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestProcessOpenFileLimit: on the platforms with RLIMIT_NOFILE the limit
// is read, and the default leaves room for Caddy.
func TestProcessOpenFileLimit(t *testing.T) {
	limit, ok := processOpenFileLimit()
	if !ok {
		t.Skip("no RLIMIT_NOFILE on this platform")
	}
	var l Limits
	if got := l.maxConnections(); limit > minSpareFiles && (got < 1 || uint64(got*filesPerConnection) > limit-minSpareFiles) {
		t.Errorf("default max_connections %d with RLIMIT_NOFILE %d", got, limit)
	}
}
