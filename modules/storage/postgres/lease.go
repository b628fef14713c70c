package postgres

import (
	"go.uber.org/zap"
)

// The session lock across nodes is a lease on the mailbox row: Open sets
// lease_owner (unique to the session, see sessionOwner), increments
// lease_token (the fencing token) and sets lease_expires, in the
// database's clock; while the session lives, renew pushes lease_expires
// forward every third of lease_time; Commit deletes only in a
// transaction that holds the row locked and finds its own token and owner
// still there. A session on a node that died, or that was paused or cut
// off for longer than lease_time, can be taken over; its token is then no
// longer current, so it can never delete anything. The owner covers a
// take lost in a database crash, whose token number is issued again (see
// takeSQL). Nothing holds a
// database connection between statements: no session-level advisory lock
// pins a connection per POP3 session, and it all works through PgBouncer
// in transaction pooling mode.

// renew extends the lease; it runs a third of lease_time after Open, and
// again a third of lease_time after each renewal, until the session ends
// (finish stops the timer and waits for a renewal that is running). A
// renewal that fails is retried at the next one; a lease found taken over
// stops the renewals (Commit will then delete nothing).
func (md *maildrop) renew() {
	md.mu.Lock()
	if md.done {
		md.mu.Unlock()
		return
	}
	md.wg.Add(1)
	md.mu.Unlock()
	defer md.wg.Done()
	if !md.store.renewPaused.Load() && !md.renewOnce() {
		return
	}
	md.mu.Lock()
	defer md.mu.Unlock()
	if !md.done {
		md.renewal.Reset(md.store.leaseDuration() / 3)
	}
}

// renewOnce runs one renewal; it reports false when the lease was taken
// over.
func (md *maildrop) renewOnce() bool {
	ctx, cancel := md.store.opCtx(md.ctx)
	defer cancel()
	tag, err := md.store.pool.Exec(ctx, `UPDATE pop3_mailboxes
		SET lease_expires = clock_timestamp() + $3 * interval '1 microsecond'
		WHERE id = $1 AND lease_token = $2 AND lease_owner = $4`, md.mailbox, md.token, md.store.leaseDuration().Microseconds(), md.owner)
	switch {
	case err != nil:
		md.store.logger.Warn("postgres: renewing a maildrop lease failed; retrying", zap.Error(err))
	case tag.RowsAffected() == 0:
		md.store.logger.Warn("postgres: a maildrop lease was taken over by another session; this session will delete nothing")
		return false
	}
	return true
}
