package pop3

import (
	"context"
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/clientid"
)

// connRegistry counts the open POP3 connections of the process, in total,
// per client address and per user name. It is shared by every handler, so
// the counts stay right across config reloads (sessions that began under
// an old config still count). Its maps only hold entries for open
// connections, so its size is bounded by the connection limits.
type connRegistry struct {
	mu      sync.Mutex
	total   int
	perIP   map[netip.Addr]int
	perUser map[uint64]int
}

func newConnRegistry() *connRegistry {
	return &connRegistry{perIP: map[netip.Addr]int{}, perUser: map[uint64]int{}}
}

// processConns is the process-wide connection registry.
var processConns = newConnRegistry()

// Refusals of a connection over a limit, sent after -ERR [SYS/TEMP].
const (
	refusedTotal = "Too many connections, try again later"
	refusedPerIP = "Too many connections from your address, try again later"
)

// admit counts a new connection, or refuses it with the reason when it is
// over maxTotal or, unless the client is exempt, over maxPerIP (0: no
// limit). ipKey is the zero Addr for a client without an IP address.
func (r *connRegistry) admit(ipKey netip.Addr, exempt bool, maxTotal, maxPerIP int) (refusal string) {
	countIP := !exempt && ipKey.IsValid()
	r.mu.Lock()
	defer r.mu.Unlock()
	if maxTotal > 0 && r.total >= maxTotal {
		return refusedTotal
	}
	if countIP && maxPerIP > 0 && r.perIP[ipKey] >= maxPerIP {
		return refusedPerIP
	}
	r.total++
	if countIP {
		r.perIP[ipKey]++
	}
	return ""
}

// release uncounts a connection that admit counted.
func (r *connRegistry) release(ipKey netip.Addr, exempt bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total--
	if !exempt && ipKey.IsValid() {
		decrement(r.perIP, ipKey)
	}
}

// claimUser counts a session logging in as the user with key, unless there
// are already limit of them (0: no limit).
func (r *connRegistry) claimUser(key uint64, limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit > 0 && r.perUser[key] >= limit {
		return false
	}
	r.perUser[key]++
	return true
}

// releaseUser uncounts a session that claimUser counted.
func (r *connRegistry) releaseUser(key uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	decrement(r.perUser, key)
}

// decrement lowers a count and forgets it at zero.
func decrement[K comparable](m map[K]int, k K) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// counts returns the total and the number of tracked addresses and users,
// for tests.
func (r *connRegistry) counts() (total, ips, users int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, len(r.perIP), len(r.perUser)
}

// userKeySeed seeds the hash that user names are tracked by, so that the
// registries hold a fixed-size key whatever name a client sends, and a
// client cannot choose names that collide.
var userKeySeed = maphash.MakeSeed()

// userKey is the registry key of a user name.
func userKey(user string) uint64 {
	return maphash.String(userKeySeed, user)
}

// serveConn serves one connection within the connection limits: over
// max_connections or max_connections_per_ip it answers -ERR [SYS/TEMP] and
// returns, before any other work.
func (h *Handler) serveConn(ctx context.Context, conn net.Conn, secure, loopback bool) {
	ip := clientid.IP(conn.RemoteAddr())
	exempt := loopback || h.Limits.trustedAddr(ip)
	key := clientid.Key(ip)
	reg := h.Limits.connRegistry()
	if refusal := reg.admit(key, exempt, h.Limits.maxConnections(), h.Limits.maxConnectionsPerIP()); refusal != "" {
		h.logger.Info("connection refused", zap.String("remote_ip", ip.String()), zap.String("reason", refusal))
		if h.implicitTLS != nil && !secure {
			return // a TLS client cannot read a clear refusal
		}
		_ = conn.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
		_, _ = conn.Write([]byte("-ERR " + codeSysTemp + refusal + "\r\n"))
		return
	}
	defer reg.release(key, exempt)

	sess := newSession(h, conn, secure, loopback)
	liveSessions.add(sess)
	defer liveSessions.remove(sess)
	sess.serve(ctx)
}

// refusalWriteTimeout bounds writing a refusal or a farewell to a client
// that does not read.
const refusalWriteTimeout = 5 * time.Second

// connRegistry returns the registry these limits count connections in.
func (l *Limits) connRegistry() *connRegistry {
	if l.conns != nil {
		return l.conns
	}
	return processConns
}
