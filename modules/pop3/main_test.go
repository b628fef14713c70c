package pop3

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is left running when
// they end: every session, timer wait and test server must be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
