package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Releases of leases without deletions (a QUIT that deletes nothing, a
// session that ends without QUIT) are grouped: while one statement
// releasing leases is on its way, the releases that come meanwhile wait
// and then go together in the next one, as a group commit does. A
// release that finds none on its way goes at once, in its own session's
// goroutine: with little load there is no added wait. A session's
// release is still confirmed before its QUIT is answered, so a client
// that logs in again right after (on any node) finds its maildrop free.
//
// A group statement cannot deadlock with anything: every other statement
// locks one mailbox row, one node has one group statement on its way at a
// time, and two nodes' groups never match the same row (a lease's owner
// is one session, on one node; a release whose lease was taken over does
// not match and takes no lock).

// maxReleaseGroup bounds the releases in one statement.
const maxReleaseGroup = 256

// release is one lease release waiting for its group's statement.
type release struct {
	mailbox, token int64
	owner          string
	done           chan releaseOutcome // once
}

// releaseOutcome is what a release learns of its group's statement.
type releaseOutcome struct {
	released bool // the lease was still its session's
	err      error
}

// releaser groups the lease releases of one store.
type releaser struct {
	mu      sync.Mutex
	queue   []*release
	running bool // a group statement is on its way
}

// releaseLease releases md's lease (if it is still md's) and returns
// once that is committed; it reports whether the lease was still md's.
func (md *maildrop) releaseLease() (bool, error) {
	r := &release{mailbox: md.mailbox, token: md.token, owner: md.owner}
	rl := &md.store.releases
	rl.mu.Lock()
	if rl.running {
		r.done = make(chan releaseOutcome, 1)
		rl.queue = append(rl.queue, r)
		rl.mu.Unlock()
		o := <-r.done
		return o.released, o.err
	}
	rl.running = true
	rl.mu.Unlock()
	released, err := md.store.releaseGroup(md.ctx, []*release{r})
	md.store.releaseQueued()
	if err != nil {
		return false, err
	}
	return released[0], nil
}

// releaseQueued sends the releases that queued up while a group was on
// its way, in a goroutine of its own, group after group until none is
// left; or marks the releaser idle.
func (p *Postgres) releaseQueued() {
	rl := &p.releases
	rl.mu.Lock()
	if len(rl.queue) == 0 {
		rl.running = false
		rl.mu.Unlock()
		return
	}
	rl.mu.Unlock()
	go func() {
		for {
			rl.mu.Lock()
			group := rl.queue
			if len(group) > maxReleaseGroup {
				group = group[:maxReleaseGroup]
			}
			if len(group) == 0 {
				rl.running = false
				rl.mu.Unlock()
				return
			}
			rl.queue = slices.Clone(rl.queue[len(group):])
			rl.mu.Unlock()
			released, err := p.releaseGroup(context.Background(), group)
			for i, r := range group {
				r.done <- releaseOutcome{released: err == nil && released[i], err: err}
			}
		}
	}()
}

// releaseGroup releases the leases of group that are still their
// sessions' (the fencing token and the owner match) in one statement,
// and reports which were.
func (p *Postgres) releaseGroup(ctx context.Context, group []*release) ([]bool, error) {
	ctx, cancel := p.opCtx(context.WithoutCancel(ctx))
	defer cancel()
	if len(group) == 1 {
		// The plan of one row's release is simpler: less for the
		// database to set up at each execution.
		r := group[0]
		var released bool
		var off string
		if err := p.pool.QueryRow(ctx, releaseOneSQL, r.mailbox, r.token, r.owner).Scan(&released, &off); err != nil {
			return nil, fmt.Errorf("postgres: releasing the lease (it lapses by itself after lease_time): %w", err)
		}
		return []bool{released}, nil
	}
	ids := make([]int64, len(group))
	tokens := make([]int64, len(group))
	owners := make([]string, len(group))
	for i, r := range group {
		ids[i], tokens[i], owners[i] = r.mailbox, r.token, r.owner
	}
	var off string
	var released []string
	if err := p.pool.QueryRow(ctx, releaseGroupSQL, ids, tokens, owners).Scan(&off, &released); err != nil {
		return nil, fmt.Errorf("postgres: releasing the lease (it lapses by itself after lease_time): %w", err)
	}
	ok := make([]bool, len(group))
	for i, r := range group {
		ok[i] = slices.Contains(released, r.owner)
	}
	return ok, nil
}

// releaseGroupSQL releases the leases of mailboxes $1 whose fencing
// tokens are still $2 and owners $3, and returns the owners of those it
// released. Its transaction commits without waiting for the WAL flush
// (synchronous_commit off, for this transaction only): if the database
// crashes before the flush, a release is lost, the lease stays as it
// was, and lapses after lease_time. Nothing else is lost: the lease
// belonged to a session that has ended, and nobody else writes its
// owner. Deleting and delivering always wait for the flush (which also
// flushes every release and take before them); a take does not (see
// takeSQL).
const releaseGroupSQL = `WITH r AS (
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS r(id, token, owner)),
	l AS (
		UPDATE pop3_mailboxes m SET lease_owner = NULL, lease_expires = NULL
		FROM r WHERE m.id = r.id AND m.lease_token = r.token AND m.lease_owner = r.owner
		RETURNING r.owner)
	SELECT set_config('synchronous_commit', 'off', true), array(SELECT owner FROM l)`

// releaseOneSQL is releaseGroupSQL for one lease: mailbox $1, token $2,
// owner $3; it reports whether the lease was released.
const releaseOneSQL = `WITH l AS (
		UPDATE pop3_mailboxes SET lease_owner = NULL, lease_expires = NULL
		WHERE id = $1 AND lease_token = $2 AND lease_owner = $3
		RETURNING id)
	SELECT EXISTS (SELECT 1 FROM l), set_config('synchronous_commit', 'off', true)`
