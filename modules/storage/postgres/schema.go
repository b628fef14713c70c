package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrationLockKey is the pg_advisory_xact_lock key under which the schema
// is migrated, so that nodes starting at once migrate one after another
// ("caddy-pop3" in ASCII, truncated to 63 bits).
const migrationLockKey int64 = 0x63616464792d706f

// migrations are the schema versions, in order; migration i brings the
// schema to version i+1. A released migration is never edited: changes
// are new migrations appended here.
var migrations = []string{
	// 1: mailboxes with their lease, messages, content chunks.
	`CREATE TABLE pop3_mailboxes (
		id            bigserial PRIMARY KEY,
		username      text NOT NULL UNIQUE,
		lease_owner   text,
		lease_token   bigint NOT NULL DEFAULT 0,
		lease_expires timestamptz
	);
	CREATE TABLE pop3_messages (
		id         bigserial PRIMARY KEY,
		mailbox_id bigint NOT NULL REFERENCES pop3_mailboxes(id) ON DELETE CASCADE,
		uidl       text NOT NULL,
		size       bigint NOT NULL,
		octets     bigint NOT NULL,
		received   timestamptz NOT NULL DEFAULT now(),
		UNIQUE (mailbox_id, uidl)
	);
	CREATE INDEX pop3_messages_mailbox ON pop3_messages (mailbox_id, id);
	CREATE TABLE pop3_chunks (
		message_id bigint  NOT NULL REFERENCES pop3_messages(id) ON DELETE CASCADE,
		seq        integer NOT NULL,
		data       bytea   NOT NULL,
		PRIMARY KEY (message_id, seq)
	);
	ALTER TABLE pop3_chunks ALTER COLUMN data SET STORAGE EXTERNAL;`,

	// 2: content rows up to a page long stay in the table instead of
	// going to its TOAST table: a small message is then read with one
	// index lookup and one heap row rather than with the TOAST table's
	// index and two or three of its rows (the login statement reads the
	// first small messages of every maildrop). Rows written before keep
	// their place; they read the same.
	`ALTER TABLE pop3_chunks SET (toast_tuple_target = 8160);`,

	// 3: the SHA-256 of each message's content, written with it at
	// delivery: nodes keep the content of small messages they served by
	// it (see contentcache.go). Rows written before have none and are not
	// kept. (A column without a default: added without rewriting the
	// table.)
	`ALTER TABLE pop3_messages ADD COLUMN digest bytea;`,
}

// SchemaVersion is the schema version this module writes.
var SchemaVersion = len(migrations)

// ensureSchema migrates the schema once per store; after a failure the
// next call tries again.
func (p *Postgres) ensureSchema(ctx context.Context) error {
	p.migrateMu.Lock()
	defer p.migrateMu.Unlock()
	if p.migrated {
		return nil
	}
	ctx, cancel := p.opCtx(ctx)
	defer cancel()
	if err := migrate(ctx, p.pool); err != nil {
		return err
	}
	p.migrated = true
	return nil
}

// txStarter is what migrate needs of a pool or a connection.
type txStarter interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// migrate brings the schema to SchemaVersion in one transaction, under a
// transaction-level advisory lock (released by the commit, so it works
// through PgBouncer's transaction pooling too): concurrent callers wait
// for each other, and the second finds nothing to do.
func migrate(ctx context.Context, db txStarter) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrating the schema: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("postgres: migrating the schema: taking the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS pop3_schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("postgres: migrating the schema: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM pop3_schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("postgres: migrating the schema: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("postgres: the database schema is version %d, newer than this caddy-pop3 knows (%d): upgrade caddy-pop3", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("postgres: migrating the schema to version %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO pop3_schema_migrations (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("postgres: migrating the schema to version %d: %w", v, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrating the schema: %w", err)
	}
	return nil
}
