package pop3

import (
	"crypto/tls"

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
