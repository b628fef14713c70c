package netconn

import "net"

// Counter is told how many octets a Counting connection moved.
type Counter interface {
	// CountIn is called after a read that returned n > 0 octets.
	CountIn(n int)
	// CountOut is called after a write that wrote n > 0 octets.
	CountOut(n int)
}

// Counting is a net.Conn that reports the octets it reads and writes to a
// Counter (a session's statistics and the process's metrics).
type Counting struct {
	net.Conn
	Counter Counter
}

// Read reads from the connection and counts what it got.
func (c *Counting) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.Counter.CountIn(n)
	}
	return n, err
}

// Write writes to the connection and counts what it wrote.
func (c *Counting) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.Counter.CountOut(n)
	}
	return n, err
}

// Interface guard
var _ net.Conn = (*Counting)(nil)
