package netconn

import (
	"crypto/tls"
	"net"
	"time"
)

// HandshakeTimeout bounds a TLS handshake (after STARTTLS, or at the start
// of an implicit-TLS connection). Before login the authentication deadline
// bounds it too (the Deadlines bound): whichever comes first.
const HandshakeTimeout = 30 * time.Second

// TLSHandshake runs the server side of a TLS handshake on conn with cfg,
// within HandshakeTimeout, and clears the deadline afterwards.
func TLSHandshake(conn net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	tlsConn := tls.Server(conn, cfg)
	_ = conn.SetDeadline(time.Now().Add(HandshakeTimeout))
	if err := tlsConn.Handshake(); err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return tlsConn, nil
}
