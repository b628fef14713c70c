// Package promreg registers a handler's Prometheus collectors with a
// Caddy config's metrics registry, the way the pop3 and lmtp handlers
// both need: a collector already there (another handler of the same
// config registered it) is fine; anything else is an error.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register adds collectors to reg (nothing when reg is nil).
func Register(reg *prometheus.Registry, collectors ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range collectors {
		err := reg.Register(c)
		var already prometheus.AlreadyRegisteredError
		if err != nil && !(errors.As(err, &already) && already.ExistingCollector == c) {
			return err
		}
	}
	return nil
}
