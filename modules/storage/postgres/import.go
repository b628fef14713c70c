package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// uidlTaken is the error of deliver when the mailbox has a row with the
// UIDL to import already, of the given wire size.
type uidlTaken struct{ size int64 }

func (e *uidlTaken) Error() string { return "the UIDL is taken" }

// Import stores msg in the user's maildrop keeping the UIDL uidl and
// env.Received as its received time, in one transaction like Deliver. The
// table's unique (mailbox, UIDL) constraint decides, atomically even
// against other nodes, whether the UIDL is free: when it is not, nothing
// is stored and the error wraps storage.ErrUIDLExists (the row has the
// message's size) or storage.ErrUIDLConflict.
func (p *Postgres) Import(ctx context.Context, user string, env storage.Envelope, uidl string, msg io.Reader) error {
	if err := storage.ValidateUser(user); err != nil {
		return err
	}
	if !storage.ValidUIDL(uidl) {
		return fmt.Errorf("postgres: UIDL %q: %w", uidl, storage.ErrUIDLNotStorable)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := io.ReadAll(msg)
	if err != nil {
		return fmt.Errorf("postgres: reading the message: %w", err)
	}
	if err := p.ensureSchema(ctx); err != nil {
		return err
	}
	err = p.deliver(ctx, user, uidl, env.Received, bytes.NewReader(data))
	var taken *uidlTaken
	if errors.As(err, &taken) {
		var sizer storage.WireSizer
		_, _ = sizer.Write(data)
		if taken.size != sizer.Size() {
			return fmt.Errorf("postgres: UIDL %s (%d octets here, %d imported): %w", uidl, taken.size, sizer.Size(), storage.ErrUIDLConflict)
		}
		return fmt.Errorf("postgres: UIDL %s: %w", uidl, storage.ErrUIDLExists)
	}
	if err != nil {
		return fmt.Errorf("postgres: importing: %w", err)
	}
	return nil
}

var _ storage.Importer = (*Postgres)(nil)
