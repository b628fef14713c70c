package pgpool

import "testing"

// TestMaxConns checks the size of a pool: DefaultMaxConns unless the DSN
// sets pool_max_conns. Creating a pool does not connect, so no database
// is needed.
func TestMaxConns(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want int32
	}{
		{"postgres://pop3@127.0.0.1:1/mail?sslmode=disable", DefaultMaxConns()},
		{"host=127.0.0.1 port=1 dbname=mail sslmode=disable", DefaultMaxConns()},
		{"postgres://pop3@127.0.0.1:1/mail?sslmode=disable&pool_max_conns=3", 3},
		{"host=127.0.0.1 port=1 dbname=mail pool_max_conns=30", 30},
	} {
		pool, err := Acquire(tc.dsn, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.dsn, err)
		}
		if got := pool.Config().MaxConns; got != tc.want {
			t.Errorf("%s: MaxConns %d, want %d", tc.dsn, got, tc.want)
		}
		Release(tc.dsn)
	}
	if DefaultMaxConns() < 8 {
		t.Errorf("DefaultMaxConns %d, want at least 8", DefaultMaxConns())
	}
}
