package pop3server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"os"

	"github.com/caddy-pop3/caddy-pop3/internal/netconn"
	"go.uber.org/zap"
)

// handshake runs the server side of a TLS handshake on the session's
// connection, within netconn.HandshakeTimeout and, before login, the
// authentication deadline (the connection's bound). On success the
// session reads and writes through TLS from then on; what was buffered
// before is dropped.
func (s *Session) handshake(cfg *tls.Config, what string) bool {
	tlsConn, err := netconn.TLSHandshake(s.conn, cfg)
	if err != nil {
		s.log.Debug(what+" handshake failed", zap.Error(err))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			s.endAs(EndTimeout)
		} else {
			s.endAs(EndClientDrop)
		}
		return false
	}
	cs := tlsConn.ConnectionState()
	s.log.Debug(what+" handshake done",
		zap.String("tls_version", tls.VersionName(cs.Version)),
		zap.String("cipher_suite", tls.CipherSuiteName(cs.CipherSuite)),
		zap.String("server_name", cs.ServerName))

	s.stopWaiting()
	s.r = bufio.NewReaderSize(tlsConn, readBufferSize)
	s.w.setDestination(tlsConn)
	s.secure = true
	return true
}
