package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// ErrLeaseLost is returned by Commit when the session's lease was taken
// over by another session (it had expired: the node was paused or cut off
// from the database for longer than lease_time). Nothing was deleted. It
// wraps storage.ErrLockLost.
var ErrLeaseLost = fmt.Errorf("postgres: the maildrop lease expired and was taken over: %w", storage.ErrLockLost)

// entry is what a snapshot keeps of a message besides storage.Message.
type entry struct {
	id     int64 // pop3_messages.id
	octets int64 // length of the content as stored
}

// maildrop is one session's leased snapshot of a mailbox.
type maildrop struct {
	store   *Postgres
	mailbox int64
	token   int64 // the fencing token of this session's lease

	msgs    []storage.Message
	entries []entry

	// prefetched holds small messages fetched ahead (see prefetch.go).
	prefetched map[int][]byte

	// ctx is the session's context without its cancellation (values
	// only): every operation adds its own timeout.
	ctx context.Context

	mu   sync.Mutex
	done bool          // Commit or Close ran
	stop chan struct{} // closed to stop the renewer
	wg   sync.WaitGroup
}

// start begins the lease renewals in the background.
func (md *maildrop) start(ctx context.Context) {
	md.ctx = context.WithoutCancel(ctx)
	md.stop = make(chan struct{})
	md.wg.Add(1)
	go md.renew()
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

// commit is the transaction of Commit.
func (md *maildrop) commit(ctx context.Context, ids []int64) error {
	tx, err := md.store.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var current int64
	if err := tx.QueryRow(ctx, `SELECT lease_token FROM pop3_mailboxes WHERE id = $1 FOR UPDATE`, md.mailbox).Scan(&current); err != nil {
		return err
	}
	if current != md.token {
		return ErrLeaseLost
	}
	if len(ids) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM pop3_messages WHERE mailbox_id = $1 AND id = ANY($2)`, md.mailbox, ids); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE pop3_mailboxes SET lease_owner = NULL, lease_expires = NULL WHERE id = $1`, md.mailbox); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Close releases the lease (if it is still this session's) and changes
// nothing else. When the database cannot be reached, the lease lapses by
// itself after lease_time.
func (md *maildrop) Close() error {
	if !md.finish() {
		return nil
	}
	ctx, cancel := md.store.opCtx(md.ctx)
	defer cancel()
	_, err := md.store.pool.Exec(ctx, `UPDATE pop3_mailboxes SET lease_owner = NULL, lease_expires = NULL
		WHERE id = $1 AND lease_token = $2`, md.mailbox, md.token)
	if err != nil {
		return fmt.Errorf("postgres: releasing the lease (it lapses by itself after lease_time): %w", err)
	}
	return nil
}

// finish marks the session done and stops the renewer; it reports
// whether this was the first call.
func (md *maildrop) finish() bool {
	md.mu.Lock()
	defer md.mu.Unlock()
	if md.done {
		return false
	}
	md.done = true
	close(md.stop)
	md.wg.Wait()
	return true
}

// Interface guard.
var _ storage.Maildrop = (*maildrop)(nil)

// abandon stops the renewals without releasing the lease, as a node that
// dies does; tests use it.
func (md *maildrop) abandon() {
	md.mu.Lock()
	defer md.mu.Unlock()
	if !md.done {
		md.done = true
		close(md.stop)
		md.wg.Wait()
	}
}
