// Package pgpool is the process-wide registry of PostgreSQL connection
// pools of caddy-pop3: every module that connects with the same DSN (the
// postgres storage, the sql authenticator, the old and the new config
// during a reload) shares one pgxpool.Pool, which is closed when the last
// of them lets go of it.
package pgpool

import (
	"bufio"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pools maps a DSN to its *entry.
var pools = caddy.NewUsagePool()

// entry is one shared pool; it is a caddy.Destructor so that the usage
// pool closes it when the last user deletes it.
type entry struct {
	pool *pgxpool.Pool
}

// Destruct closes the pool.
func (e *entry) Destruct() error {
	e.pool.Close()
	return nil
}

// ErrBadDSN is returned for a DSN pgx cannot parse. The message never
// quotes the DSN, which may hold a password.
var ErrBadDSN = errors.New("not a valid PostgreSQL connection string (URL postgres://user:password@host:port/db?... or key=value pairs)")

// Acquire returns the pool for dsn, creating it when this process has
// none; every Acquire is paired with a Release(dsn). connectTimeout bounds
// the dialing of a new connection when the DSN sets no connect_timeout.
// Creating a pool does not connect: a database that is down is not an
// error here, and the pool connects when it is first used.
func Acquire(dsn string, connectTimeout time.Duration) (*pgxpool.Pool, error) {
	v, _, err := pools.LoadOrNew(dsn, func() (caddy.Destructor, error) {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, ErrBadDSN
		}
		if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > connectTimeout {
			cfg.ConnConfig.ConnectTimeout = connectTimeout
		}
		if !strings.Contains(dsn, "pool_max_conns") {
			cfg.MaxConns = DefaultMaxConns()
		}
		cfg.ConnConfig.BuildFrontend = bufferedFrontend
		// A connection that has been idle while the database restarted
		// is found dead on use; check idle ones before handing them out.
		cfg.HealthCheckPeriod = 15 * time.Second
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			return nil, err
		}
		return &entry{pool: pool}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*entry).pool, nil
}

// DefaultMaxConns is the size of a pool whose DSN sets no pool_max_conns:
// twice the number of CPUs, at least 8. pgx's own default (the number of
// CPUs, at least 4) is too small for POP3 sessions: a login's statement
// holds its connection while its commit waits for the WAL flush, so with
// few connections the other logins queue for one while the database's
// CPU idles.
func DefaultMaxConns() int32 {
	return int32(max(8, 2*runtime.NumCPU()))
}

// Release lets go of a pool returned by Acquire.
func Release(dsn string) {
	_, _ = pools.Delete(dsn)
}

// readBuffer is the read buffer of a database connection. pgx reads into
// 8 KiB, one system call per 8 KiB at least; the login statement returns
// up to 128 KiB of content, which one read of this size takes in one go
// when it is already waiting in the socket.
const readBuffer = 64 << 10

// bufferedFrontend is pgx's frontend reading through a readBuffer-sized
// buffer. Nothing reads the connection but the frontend (no Hijack, no
// SyncConn here), so the buffer never holds data someone else expects.
func bufferedFrontend(r io.Reader, w io.Writer) *pgproto3.Frontend {
	return pgproto3.NewFrontend(bufio.NewReaderSize(r, readBuffer), w)
}
