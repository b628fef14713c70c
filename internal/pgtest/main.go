package pgtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// The cluster of this test binary, started by Main.
var (
	shared   *Cluster
	notReady string // why there is no cluster
	dbCount  atomic.Int64
)

// Main starts the cluster, runs the tests and stops the cluster; a test
// binary's TestMain calls os.Exit(pgtest.Main(m)). When the cluster cannot
// start, the tests that need it skip with the reason, except with CI=true,
// where Main fails before running any test.
func Main(m *testing.M) int {
	c, err := Start()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "pgtest: CI=true and no PostgreSQL for the tests: %v\n", err)
			return 1
		}
		notReady = err.Error()
	}
	shared = c
	code := m.Run()
	if c != nil {
		c.Stop()
	}
	return code
}

// Shared returns the cluster of this test binary, skipping t when there
// is none.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if shared == nil {
		if notReady == "" {
			t.Fatal("pgtest: no cluster: the package's TestMain must call pgtest.Main")
		}
		t.Skip("no PostgreSQL: " + notReady)
	}
	return shared
}

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

// DSN creates a fresh database for t, dropped when t ends, and returns
// its connection string.
func DSN(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	name := unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	name = fmt.Sprintf("t%d_%s", dbCount.Add(1), name)
	if err := c.CreateDatabase(context.Background(), name); err != nil {
		t.Fatalf("pgtest: creating database: %v", err)
	}
	t.Cleanup(func() {
		if err := c.DropDatabase(context.Background(), name); err != nil {
			t.Logf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return c.DSN(name)
}

// Exit is Main followed by os.Exit: TestMain(m) { pgtest.Exit(m) }.
func Exit(m *testing.M) { os.Exit(Main(m)) }

// StartForTest starts a cluster of t's own on port (0: a free one),
// stopped when t ends, for a package that has no TestMain of pgtest: it
// skips t (or, with CI=true, fails it) when PostgreSQL is missing.
func StartForTest(t testing.TB, port int) *Cluster {
	t.Helper()
	c, err := StartOnPort(port)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no PostgreSQL for the test: %v", err)
		}
		t.Skip("no PostgreSQL: " + err.Error())
	}
	t.Cleanup(c.Stop)
	return c
}
