//go:build !unix

package netconn

import "net"

// Waitable stands for the Unix type: there is no way here to wait for
// input without reading it, so NewWaitable returns the connection itself.
type Waitable struct{ net.Conn }

// newWaitable returns nil: see Waitable.
func newWaitable(net.Conn, net.Conn, func() bool) *Waitable { return nil }
