package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Open takes the lease on the user's maildrop and returns a snapshot of
// its messages, in one transaction bounded by the timeout. It returns
// storage.ErrInUse while another session, on any node, holds an unexpired
// lease. A user without a mailbox row gets one.
func (p *Postgres) Open(ctx context.Context, user string) (storage.Maildrop, error) {
	if err := storage.ValidateUser(user); err != nil {
		return nil, err
	}
	if err := p.ensureSchema(ctx); err != nil {
		return nil, err
	}
	octx, cancel := p.opCtx(ctx)
	defer cancel()
	md, err := p.take(octx, user)
	if err != nil {
		if errors.Is(err, storage.ErrInUse) {
			return nil, err
		}
		return nil, fmt.Errorf("postgres: opening the maildrop: %w", err)
	}
	md.start(ctx)
	return md, nil
}

// take runs the Open transaction: take the lease if it is free or has
// expired (a new fencing token; a user without a mailbox row gets one,
// already leased), then read the snapshot. Time is the database's clock,
// so the nodes' clocks do not matter.
func (p *Postgres) take(ctx context.Context, user string) (*maildrop, error) {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	lease := p.leaseDuration().Microseconds()
	var id, token int64
	for attempt := 0; ; attempt++ {
		err = tx.QueryRow(ctx, `UPDATE pop3_mailboxes
			SET lease_owner = $2, lease_token = lease_token + 1,
			    lease_expires = clock_timestamp() + $3 * interval '1 microsecond'
			WHERE username = $1 AND (lease_expires IS NULL OR lease_expires <= clock_timestamp())
			RETURNING id, lease_token`, user, p.owner, lease).Scan(&id, &token)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
		// No free row: either there is none yet, or it is leased.
		err = tx.QueryRow(ctx, `INSERT INTO pop3_mailboxes (username, lease_owner, lease_token, lease_expires)
			VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 microsecond')
			ON CONFLICT (username) DO NOTHING
			RETURNING id, lease_token`, user, p.owner, lease).Scan(&id, &token)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
		// The row exists: leased, or created by a delivery since the
		// UPDATE looked; look once more.
		if attempt == 1 {
			return nil, storage.ErrInUse
		}
	}
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT id, uidl, size, octets FROM pop3_messages WHERE mailbox_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	md := &maildrop{store: p, mailbox: id, token: token}
	for rows.Next() {
		var e entry
		var m storage.Message
		if err := rows.Scan(&e.id, &m.UID, &m.Size, &e.octets); err != nil {
			rows.Close()
			return nil, err
		}
		md.msgs = append(md.msgs, m)
		md.entries = append(md.entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return md, nil
}

// mailboxID returns the id of user's mailbox row, creating it if needed.
func mailboxID(ctx context.Context, tx pgx.Tx, user string) (int64, error) {
	var id int64
	for range 2 {
		err := tx.QueryRow(ctx, `SELECT id FROM pop3_mailboxes WHERE username = $1`, user).Scan(&id)
		if !errors.Is(err, pgx.ErrNoRows) {
			return id, err
		}
		err = tx.QueryRow(ctx, `INSERT INTO pop3_mailboxes (username) VALUES ($1)
			ON CONFLICT (username) DO NOTHING RETURNING id`, user).Scan(&id)
		if !errors.Is(err, pgx.ErrNoRows) {
			return id, err
		}
	}
	return 0, errors.New("the mailbox row keeps vanishing")
}

// leaseDuration is the lease time of p.
func (p *Postgres) leaseDuration() time.Duration { return time.Duration(p.LeaseTime) }
