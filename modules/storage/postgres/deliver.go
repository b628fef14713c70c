package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// deliveryBuffers holds the chunk buffers of deliveries.
var deliveryBuffers = sync.Pool{New: func() any {
	b := make([]byte, chunkSize)
	return &b
}}

// Deliver stores msg in the user's maildrop: one transaction that inserts
// the message row, then the content one chunk row at a time as it is read
// (never the whole message in memory), then the sizes and the digest. The UIDL is made
// by the server from the row's id, never taken from the message. An open
// session does not see the message: its snapshot was taken at Open.
func (p *Postgres) Deliver(ctx context.Context, user string, env storage.Envelope, msg io.Reader) error {
	if err := storage.ValidateUser(user); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.ensureSchema(ctx); err != nil {
		return err
	}
	if err := p.deliver(ctx, user, env.Sender, env.Received, msg); err != nil {
		return fmt.Errorf("postgres: delivering: %w", err)
	}
	return nil
}

// deliver is the transaction of Deliver, and of Import when uidl is not
// empty: then the row gets that UIDL and received time (now when zero),
// and when the mailbox has a row with the UIDL already, nothing is
// stored and the error wraps errUIDLTaken. Every statement has its own
// timeout; reading msg does not (the sender may be slow), but the whole
// delivery ends with ctx.
func (p *Postgres) deliver(ctx context.Context, user, uidl string, received time.Time, msg io.Reader) error {
	bctx, cancel := p.opCtx(ctx)
	tx, err := p.pool.Begin(bctx)
	cancel()
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	octx, cancel := p.opCtx(ctx)
	mailbox, err := mailboxID(octx, tx, user)
	var id int64
	switch {
	case err != nil:
	case uidl == "":
		err = tx.QueryRow(octx, `INSERT INTO pop3_messages (id, mailbox_id, uidl, size, octets)
			SELECT n, $1, 'pg' || n, 0, 0 FROM nextval(pg_get_serial_sequence('pop3_messages', 'id')) AS n
			RETURNING id`, mailbox).Scan(&id)
	default:
		if received.IsZero() {
			received = time.Now()
		}
		err = tx.QueryRow(octx, `INSERT INTO pop3_messages (mailbox_id, uidl, size, octets, received)
			VALUES ($1, $2, 0, 0, $3) ON CONFLICT (mailbox_id, uidl) DO NOTHING
			RETURNING id`, mailbox, uidl, received).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			var size int64
			err = tx.QueryRow(octx, `SELECT size FROM pop3_messages WHERE mailbox_id = $1 AND uidl = $2`, mailbox, uidl).Scan(&size)
			if err == nil {
				err = &uidlTaken{size: size}
			}
		}
	}
	cancel()
	if err != nil {
		return err
	}

	var sizer storage.WireSizer
	hash := sha256.New()
	bp := deliveryBuffers.Get().(*[]byte)
	defer deliveryBuffers.Put(bp)
	buf := *bp
	var octets int64
	for seq := int32(0); ; seq++ {
		n, rerr := io.ReadFull(msg, buf)
		if n > 0 {
			_, _ = sizer.Write(buf[:n])
			_, _ = hash.Write(buf[:n])
			octets += int64(n)
			octx, cancel := p.opCtx(ctx)
			_, err := tx.Exec(octx, `INSERT INTO pop3_chunks (message_id, seq, data) VALUES ($1, $2, $3)`, id, seq, buf[:n])
			cancel()
			if err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("reading the message: %w", rerr)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	octx, cancel = p.opCtx(ctx)
	defer cancel()
	var sum digest
	if _, err := tx.Exec(octx, `UPDATE pop3_messages SET size = $2, octets = $3, digest = $4 WHERE id = $1`, id, sizer.Size(), octets, hash.Sum(sum[:0])); err != nil {
		return err
	}
	return tx.Commit(octx)
}
