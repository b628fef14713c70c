package postgres

import (
	"context"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/storagetest"
)

func TestSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Fixture {
		p := newStore(t, pgtest.DSN(t), 0)
		return storagetest.Fixture{
			Store: p,
			// Another program (an IMAP server on the same database)
			// removing a message.
			Remove: func(t *testing.T, user, uid string) {
				n := exec(t, p, `DELETE FROM pop3_messages m USING pop3_mailboxes b
					WHERE m.mailbox_id = b.id AND b.username = $1 AND m.uidl = $2`, user, uid)
				if n != 1 {
					t.Fatalf("no message with UIDL %q", uid)
				}
			},
			// A node that dies in the middle of Commit: its transaction
			// has deleted one message when the connection goes away
			// (PostgreSQL rolls it back), and its lease lapses.
			CrashCommit: func(t *testing.T, sm storage.Maildrop, deleted []int) {
				md := sm.(*maildrop)
				md.abandon()
				ctx := context.Background()
				tx, err := p.pool.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctx, `DELETE FROM pop3_messages WHERE id = $1`, md.entries[deleted[0]].id); err != nil {
					t.Fatal(err)
				}
				// The connection dies: the server rolls the transaction back.
				if err := tx.Conn().Close(ctx); err != nil {
					t.Fatal(err)
				}
				_ = tx.Rollback(ctx) // hands the dead connection back to the pool
				expireLease(t, p, md.mailbox)
			},
		}
	})
}

// expireLease makes the lease of mailbox lapse now, as if lease_time had
// passed without a renewal.
func expireLease(t testing.TB, p *Postgres, mailbox int64) {
	t.Helper()
	exec(t, p, `UPDATE pop3_mailboxes SET lease_expires = clock_timestamp() - interval '1 second' WHERE id = $1`, mailbox)
}
