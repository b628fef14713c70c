package guard

import (
	"context"
	"time"
)

// Pause waits for d, or until ctx ends or ended is closed; it reports
// whether it waited the whole time. It needs no goroutine of its own.
func Pause(ctx context.Context, d time.Duration, ended <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-ended:
		return false
	}
}
