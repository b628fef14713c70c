// Package postgres is the pop3.storage.postgres storage backend: mail kept
// in a PostgreSQL database shared by any number of caddy-pop3 nodes. A
// mailbox row per user holds the session lease; a message row per message
// holds its UIDL, its size and its received time, and its content is in
// chunk rows, so that large messages stream in and out without being held
// whole in memory. The module creates and migrates its schema itself.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/pgpool"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func init() {
	caddy.RegisterModule(new(Postgres))
}

// Defaults.
const (
	// DefaultLeaseTime is how long a session's lease lasts without
	// renewal: how long a crashed node keeps its users locked out.
	DefaultLeaseTime = 60 * time.Second
	// DefaultTimeout bounds each database operation.
	DefaultTimeout = 5 * time.Second
	// minLeaseTime is the shortest lease_time accepted: the lease is
	// renewed every third of it, each renewal bounded by timeout.
	minLeaseTime = time.Second
)

// Postgres is a storage backend that keeps mail in PostgreSQL. Several
// Caddy nodes may share one database: a session holds its maildrop
// through a lease with a fencing token (see lease.go), so that a second
// session on any node gets ErrInUse and a node that was paused past its
// lease can never apply deletions.
type Postgres struct {
	// DSN is the connection string, as a postgres:// URL or libpq
	// key=value pairs; pgxpool settings such as pool_max_conns may be
	// added. Global placeholders ({env.POP3_DSN}) are replaced. Required.
	DSN string `json:"dsn,omitempty"`

	// LeaseTime is how long a session's lease on a maildrop lasts; it is
	// renewed every third of it while the session lives, so a node that
	// died holds its users' maildrops for at most this long. Default 60s.
	LeaseTime caddy.Duration `json:"lease_time,omitempty"`

	// Timeout bounds every database operation (taking the lease and the
	// snapshot at login, each chunk read, a commit, each statement of a
	// delivery), so that a database that is down or slow gives a quick
	// error. Default 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// ContentCacheSize is the memory budget in bytes of the content
	// cache, which keeps the content of small messages the node served
	// so that retrieving them again costs the database nothing (see
	// contentcache.go). The cache is shared by every postgres store of
	// the process, so the store loaded last sets its size. 0 means
	// DefaultContentCacheSize (64 MiB); -1 ("off") keeps this store's
	// messages out of the cache.
	ContentCacheSize int64 `json:"content_cache_size,omitempty"`

	dsn   string
	pool  *pgxpool.Pool
	cache *contentCache // nil when off
	// shipped counts the content rows of small messages read from the
	// database; tests use it.
	shipped atomic.Int64
	owner   string // what this node writes as the lease owner
	logger  *zap.Logger

	// migrated is set once the schema is known to be current.
	migrateMu sync.Mutex
	migrated  bool

	// releases groups the lease releases of sessions (see release.go).
	releases releaser

	// renewPaused stops lease renewals: tests use it to play a node
	// that is paused past its lease.
	renewPaused atomic.Bool
}

// CaddyModule returns the Caddy module information.
func (*Postgres) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "pop3.storage.postgres",
		New: func() caddy.Module { return new(Postgres) },
	}
}

// Provision sets the defaults, takes the shared pool for the DSN and
// migrates the schema. A database that cannot be reached is not an error
// (the node must be able to start before its database): the schema is
// then migrated at the first login or delivery.
func (p *Postgres) Provision(ctx caddy.Context) error {
	p.logger = ctx.Logger()
	if err := p.setup(); err != nil {
		return err
	}
	if err := p.ensureSchema(ctx); err != nil {
		p.logger.Warn("postgres: cannot migrate the schema now; will retry at first use", zap.Error(err))
	}
	return nil
}

// setup is Provision without the logger and the first migration: tests
// and tools call it directly.
func (p *Postgres) setup() error {
	if p.logger == nil {
		p.logger = zap.NewNop()
	}
	if p.DSN == "" {
		return errors.New("postgres: dsn is required")
	}
	if p.LeaseTime == 0 {
		p.LeaseTime = caddy.Duration(DefaultLeaseTime)
	}
	if p.Timeout == 0 {
		p.Timeout = caddy.Duration(DefaultTimeout)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	switch p.ContentCacheSize {
	case ContentCacheOff:
	case 0:
		contents.setBudget(DefaultContentCacheSize)
		p.cache = contents
	default:
		contents.setBudget(p.ContentCacheSize)
		p.cache = contents
	}
	p.dsn = caddy.NewReplacer().ReplaceKnown(p.DSN, "")
	if p.dsn == "" {
		return errors.New("postgres: dsn is empty once placeholders are replaced (is the environment variable set?)")
	}
	pool, err := pgpool.Acquire(p.dsn, time.Duration(p.Timeout))
	if err != nil {
		return fmt.Errorf("postgres: dsn: %w", err)
	}
	p.pool = pool
	p.owner = nodeName()
	return nil
}

// Validate checks the durations and the cache size.
func (p *Postgres) Validate() error {
	if p.LeaseTime != 0 && time.Duration(p.LeaseTime) < minLeaseTime {
		return fmt.Errorf("postgres: lease_time %s is too short (at least %s)", time.Duration(p.LeaseTime), minLeaseTime)
	}
	if p.Timeout < 0 {
		return fmt.Errorf("postgres: timeout %s must be positive", time.Duration(p.Timeout))
	}
	if p.ContentCacheSize < ContentCacheOff {
		return fmt.Errorf("postgres: content_cache_size %d is neither a size in bytes nor -1 (off)", p.ContentCacheSize)
	}
	return nil
}

// Cleanup lets go of the shared pool.
func (p *Postgres) Cleanup() error {
	if p.pool != nil {
		pgpool.Release(p.dsn)
		p.pool = nil
	}
	return nil
}

// opCtx bounds one database operation by the timeout.
func (p *Postgres) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(p.Timeout))
}

// Interface guards.
var (
	_ caddy.Provisioner     = (*Postgres)(nil)
	_ caddy.Validator       = (*Postgres)(nil)
	_ caddy.CleanerUpper    = (*Postgres)(nil)
	_ caddyfile.Unmarshaler = (*Postgres)(nil)
	_ storage.Store         = (*Postgres)(nil)
	_ storage.Deliverer     = (*Postgres)(nil)
)
