package pop3

import (
	"crypto/tls"
	"net"

	"github.com/mholt/caddy-l4/layer4"
)

// connectionIsTLS reports whether cx is carried over TLS, either because
// caddy-l4's tls handler ran before this one or because the connection was
// upgraded in this session.
func connectionIsTLS(cx *layer4.Connection) bool {
	if _, ok := cx.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return true
	}
	states, _ := cx.GetVar(layer4.TLSConnectionStatesVarName).([]*tls.ConnectionState)
	return len(states) > 0
}

// isLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1)
// or a Unix socket, where credentials cannot be sniffed on a network.
func isLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
