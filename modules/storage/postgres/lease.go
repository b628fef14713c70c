package postgres

import (
	"time"

	"go.uber.org/zap"
)

// The session lock across nodes is a lease on the mailbox row: Open sets
// lease_owner, increments lease_token (the fencing token) and sets
// lease_expires, in the database's clock; while the session lives, renew
// pushes lease_expires forward every third of lease_time; Commit deletes
// only in a transaction that holds the row locked and finds its own token
// still there. A session on a node that died, or that was paused or cut
// off for longer than lease_time, can be taken over; its token is then no
// longer current, so it can never delete anything. Nothing holds a
// database connection between statements: no session-level advisory lock
// pins a connection per POP3 session, and it all works through PgBouncer
// in transaction pooling mode.

// renew extends the lease every third of lease_time until the session
// ends. A renewal that fails is retried at the next tick; a lease found
// taken over stops the renewals (Commit will then delete nothing).
func (md *maildrop) renew() {
	defer md.wg.Done()
	every := md.store.leaseDuration() / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-md.stop:
			return
		case <-t.C:
		}
		if md.store.renewPaused.Load() {
			continue
		}
		ctx, cancel := md.store.opCtx(md.ctx)
		tag, err := md.store.pool.Exec(ctx, `UPDATE pop3_mailboxes
			SET lease_expires = clock_timestamp() + $3 * interval '1 microsecond'
			WHERE id = $1 AND lease_token = $2`, md.mailbox, md.token, md.store.leaseDuration().Microseconds())
		cancel()
		switch {
		case err != nil:
			md.store.logger.Warn("postgres: renewing a maildrop lease failed; retrying", zap.Error(err))
		case tag.RowsAffected() == 0:
			md.store.logger.Warn("postgres: a maildrop lease was taken over by another session; this session will delete nothing")
			return
		}
	}
}
