package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// ErrLeaseLost is returned by Commit when the session's lease was taken
// over by another session (it had expired: the node was paused or cut off
// from the database for longer than lease_time). Nothing was deleted. It
// wraps storage.ErrLockLost.
var ErrLeaseLost = fmt.Errorf("postgres: the maildrop lease expired and was taken over: %w", storage.ErrLockLost)

// entry is what a snapshot keeps of a message besides storage.Message.
type entry struct {
	id     int64  // pop3_messages.id
	octets int64  // length of the content as stored
	digest digest // SHA-256 of the content, if hashed
	hashed bool   // the row has a digest (see contentcache.go)
}

// maildrop is one session's leased snapshot of a mailbox.
type maildrop struct {
	store   *Postgres
	user    string
	mailbox int64
	token   int64  // the fencing token of this session's lease
	owner   string // the lease owner, unique to this session (sessionOwner)

	msgs    []storage.Message
	entries []entry

	// ahead holds the content of small messages fetched ahead, from
	// message aheadFirst on; nil where nothing is held (see prefetch.go).
	// mu guards it once the maildrop is handed out.
	ahead      [][]byte
	aheadFirst int

	// ctx is the session's context without its cancellation (values
	// only): every operation adds its own timeout.
	ctx context.Context

	mu      sync.Mutex
	done    bool        // Commit or Close ran
	arena   *[]byte     // the content fetched ahead, from arenas (see arena.go)
	readers int         // smallReaders open
	rehint  bool        // content was cached since the login (see updateHint)
	renewal *time.Timer // the next lease renewal (see lease.go)
	wg      sync.WaitGroup
}

// start arms the first lease renewal. Nothing runs until it is due: a
// session shorter than a third of lease_time costs no goroutine and no
// renewal.
func (md *maildrop) start(ctx context.Context) {
	md.ctx = context.WithoutCancel(ctx)
	md.mu.Lock()
	defer md.mu.Unlock()
	md.renewal = time.AfterFunc(md.store.leaseDuration()/3, md.renew)
}

// sortByID puts the snapshot in the order of the message rows' ids (the
// order of delivery), which is the order of the message numbers, with
// what was fetched ahead; it does nothing when they are in order already.
func (md *maildrop) sortByID() {
	if slices.IsSortedFunc(md.entries, func(a, b entry) int { return cmp.Compare(a.id, b.id) }) {
		return
	}
	type one struct {
		msg   storage.Message
		entry entry
		data  []byte
	}
	all := make([]one, len(md.entries))
	for i := range all {
		data, _ := md.fetched(i)
		all[i] = one{md.msgs[i], md.entries[i], data}
	}
	slices.SortFunc(all, func(a, b one) int { return cmp.Compare(a.entry.id, b.entry.id) })
	md.ahead, md.aheadFirst = md.ahead[:0], 0
	for i, o := range all {
		md.msgs[i], md.entries[i] = o.msg, o.entry
		if o.data != nil {
			md.keep(i, o.data)
		}
	}
}

// Messages returns the snapshot taken at Open.
func (md *maildrop) Messages() []storage.Message { return md.msgs }

// Open returns a reader of message i that fetches its content one chunk
// at a time.
func (md *maildrop) Open(ctx context.Context, i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(md.entries) {
		return nil, storage.ErrNoSuchMessage
	}
	if e := md.entries[i]; e.octets > 0 && e.octets <= smallMessage {
		return md.openSmall(i)
	}
	return newChunkReader(md.ctx, md.store, md.entries[i].id, md.entries[i].octets)
}

// Commit deletes the given messages and releases the lease, in one
// transaction that first checks, with the mailbox row locked, that the
// lease's fencing token is still this session's. If another session took
// the maildrop over, nothing is deleted and Commit returns ErrLeaseLost.
func (md *maildrop) Commit(ctx context.Context, deleted []int) error {
	ids := make([]int64, 0, len(deleted))
	for _, i := range deleted {
		if i < 0 || i >= len(md.entries) {
			return storage.ErrNoSuchMessage
		}
		ids = append(ids, md.entries[i].id)
	}
	if !md.finish() {
		return nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	ctx, cancel := md.store.opCtx(ctx)
	defer cancel()
	if err := md.commit(ctx, ids); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			return err
		}
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// commit deletes the messages ids and releases the lease in one
// statement (one round trip, one transaction): the UPDATE that releases
// the lease matches only while the fencing token and the owner are still
// this session's (see takeSQL for why both), and takes the mailbox row's
// lock, so a session that took the maildrop
// over either committed before (the token differs: nothing is released
// and nothing deleted) or waits for this statement to commit; the DELETE
// runs only for the mailbox the UPDATE matched. Without deletions it is
// a release, grouped with other sessions' (see release.go).
func (md *maildrop) commit(ctx context.Context, ids []int64) error {
	var released bool
	var err error
	if len(ids) == 0 {
		released, err = md.releaseLease()
	} else {
		err = md.store.pool.QueryRow(ctx, `WITH l AS (
				UPDATE pop3_mailboxes SET lease_owner = NULL, lease_expires = NULL
				WHERE id = $1 AND lease_token = $2 AND lease_owner = $3
				RETURNING id),
			d AS (
				DELETE FROM pop3_messages
				WHERE mailbox_id = (SELECT id FROM l) AND id = ANY($4))
			SELECT EXISTS (SELECT 1 FROM l)`, md.mailbox, md.token, md.owner, ids).Scan(&released)
	}
	if err != nil {
		return err
	}
	if !released {
		return ErrLeaseLost
	}
	return nil
}

// Close releases the lease (if it is still this session's) and changes
// nothing else. When the database cannot be reached, the lease lapses by
// itself after lease_time.
func (md *maildrop) Close() error {
	if !md.finish() {
		return nil
	}
	_, err := md.releaseLease()
	return err
}

// finish marks the session done and stops the renewals, waiting for one
// that is running; it reports whether this was the first call.
func (md *maildrop) finish() bool {
	md.mu.Lock()
	if md.done {
		md.mu.Unlock()
		return false
	}
	md.done = true
	md.renewal.Stop()
	md.releaseArena()
	rehint := md.rehint
	md.mu.Unlock()
	if rehint {
		md.updateHint()
	}
	md.wg.Wait()
	return true
}

// Interface guard.
var _ storage.Maildrop = (*maildrop)(nil)

// abandon stops the renewals without releasing the lease, as a node that
// dies does; tests use it.
func (md *maildrop) abandon() { md.finish() }
