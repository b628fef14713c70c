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

// take takes the lease if it is free or has expired (a new fencing
// token; a user without a mailbox row gets one, already leased) and reads
// the snapshot. Time is the database's clock, so the nodes' clocks do not
// matter.
func (p *Postgres) take(ctx context.Context, user string) (*maildrop, error) {
	lease := p.leaseDuration().Microseconds()
	owner := p.sessionOwner()
	md, err := p.takeExisting(ctx, user, owner, lease)
	if md != nil || err != nil {
		return md, err
	}
	return p.takeNew(ctx, user, owner, lease)
}

// takeExisting takes the lease of an existing, free mailbox for owner,
// reads its snapshot and the content of its first small messages (see
// prefetch.go) in one statement: one round trip. It returns nil, nil when
// there is no free mailbox row for user. The statement commits without
// waiting for its WAL flush (see takeSQL).
func (p *Postgres) takeExisting(ctx context.Context, user, owner string, lease int64) (*maildrop, error) {
	var hint []int64
	if p.cache != nil {
		hint = p.cache.hintOf(user)
	}
	rows, err := p.pool.Query(ctx, takeSQL, user, owner, lease, smallMessage, loginPrefetchBytes, prefetchCount, hint)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	md := &maildrop{store: p, user: user, owner: owner}
	found := false
	// One set of destinations for every row: a variable declared in the
	// loop would be allocated again for each row.
	var mailbox, token, id, size, octets int64
	var async bool
	var uid string
	var dg digestScan
	var win loginWindow // only messages in it can have come with content
	content := arenaScan{md: md}
	dest := []any{&mailbox, &token, &async, &id, &uid, &size, &octets, &dg, &content}
	for rows.Next() {
		content.data = nil
		if err := rows.Scan(dest...); err != nil {
			md.discard()
			return nil, err
		}
		if !found {
			md.mailbox, md.token, found = mailbox, token, true
		}
		if id == 0 { // the LEFT JOIN row of an empty mailbox
			continue
		}
		i := len(md.entries)
		md.msgs = append(md.msgs, storage.Message{UID: uid, Size: size})
		md.entries = append(md.entries, entry{id: id, octets: octets, digest: dg.d, hashed: dg.ok})
		data := content.data
		inWindow := win.next(octets)
		switch {
		case data != nil && int64(len(data)) == octets:
			p.shipped.Add(1)
			md.cache(i, data)
		case data != nil:
			// Content of another length is damaged: left for the RETR of
			// that message to fetch and report.
			p.shipped.Add(1)
			data = nil
		case inWindow: // skipped by the hint: the cache may hold it
			data, _ = md.cached(i)
		}
		if data != nil {
			if len(md.ahead) == 0 {
				md.aheadFirst = i
			}
			md.keep(i, data)
		}
	}
	if err := rows.Err(); err != nil {
		md.discard()
		return nil, err
	}
	if !found {
		md.discard()
		return nil, nil
	}
	md.sortByID()
	md.updateHint()
	return md, nil
}

// takeSQL takes the lease of user $1's mailbox for owner $2 for $3
// microseconds if it is free or has expired, and returns the snapshot
// with the content of the first small messages: the mailbox id and the
// new token in every row, then one row per message (one row with message
// id 0 for an empty mailbox; ids start at 1); no row when the lease is
// held.
//
// The window numbers the small messages in the order of the listing and
// sums their lengths, so that the content of the first ones (as many as
// fit the budget: $4 is the longest small message, $5 and $6 the bytes
// and the messages fetched) comes in the same rows, except for those
// whose ids are in $7, the hint of what the node's content cache holds
// (see contentcache.go); every row has the message's digest. The listing comes out
// of the window in id order (sorted by the caller if it ever does not: an
// ORDER BY here would sort the content too).
//
// The take commits without waiting for its WAL flush (synchronous_commit
// off for this transaction only, set in the UPDATE's RETURNING, so only
// when a lease was taken): a database crash may lose a take that was
// confirmed, and the same token number may then be issued again. That is
// safe because every later statement of the session (renewal, release,
// deletions) matches the token AND the owner, and the owner is unique to
// the session (sessionOwner): a session whose take was lost can match
// neither the row as it was before (older token) nor a new session's
// lease (another owner), so it renews, releases and deletes nothing. Its
// deletions would anyway commit synchronously, which flushes the take's
// WAL first: deletions never rest on a lease that may be lost.
const takeSQL = `WITH l AS (
		UPDATE pop3_mailboxes
		SET lease_owner = $2, lease_token = lease_token + 1,
		    lease_expires = clock_timestamp() + $3 * interval '1 microsecond'
		WHERE username = $1 AND (lease_expires IS NULL OR lease_expires <= clock_timestamp())
		RETURNING id, lease_token, set_config('synchronous_commit', 'off', true) = 'off' AS async)
	SELECT l.id, l.lease_token, l.async, coalesce(m.id, 0), coalesce(m.uidl, ''),
		coalesce(m.size, 0), coalesce(m.octets, 0), m.digest,
		CASE WHEN m.small AND m.total <= $5 AND m.n <= $6 AND m.id <> ALL(coalesce($7, '{}'::bigint[])) THEN
			(SELECT c.data FROM pop3_chunks c WHERE c.message_id = m.id AND c.seq = 0)
		END
	FROM l LEFT JOIN LATERAL (
		SELECT id, uidl, size, octets, digest, octets BETWEEN 1 AND $4 AS small,
			sum(CASE WHEN octets BETWEEN 1 AND $4 THEN octets::integer ELSE 0 END) OVER w AS total,
			count(*) FILTER (WHERE octets BETWEEN 1 AND $4) OVER w AS n
		FROM pop3_messages WHERE mailbox_id = l.id
		WINDOW w AS (ORDER BY id)) m ON true`

// takeNew creates the mailbox row of user already leased for owner (a
// new mailbox is empty). ErrInUse when the row exists: it is leased, or
// it was created by a delivery and is free, in which case takeExisting is
// tried once more. The insert commits synchronously (it is rare: once per
// user).
func (p *Postgres) takeNew(ctx context.Context, user, owner string, lease int64) (*maildrop, error) {
	var id, token int64
	err := p.pool.QueryRow(ctx, `INSERT INTO pop3_mailboxes (username, lease_owner, lease_token, lease_expires)
		VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 microsecond')
		ON CONFLICT (username) DO NOTHING
		RETURNING id, lease_token`, user, owner, lease).Scan(&id, &token)
	if err == nil {
		return &maildrop{store: p, user: user, mailbox: id, token: token, owner: owner}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	md, err := p.takeExisting(ctx, user, owner, lease)
	if md == nil && err == nil {
		return nil, storage.ErrInUse
	}
	return md, err
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
