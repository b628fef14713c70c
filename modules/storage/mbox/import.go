//go:build unix

package mbox

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Import appends msg to the user's spool keeping the UIDL uidl: it is
// delivered like Deliver does, with uidl in its authenticated marker line
// (see marker.go), which is what gives a delivered message its UIDL, and
// env.Received as the date of its From_ line (env.Sender as its sender).
// Without the spool's key no marker line can be written, and Import fails
// rather than store the message under another UIDL. See storage.Importer
// for UIDLs that are already in the spool.
func (m *Mbox) Import(ctx context.Context, user string, env storage.Envelope, uidl string, msg io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !validUID([]byte(uidl)) {
		return fmt.Errorf("mbox: UIDL %q: %w", uidl, storage.ErrUIDLNotStorable)
	}
	if _, err := m.spoolPath(user); err != nil {
		return err
	}
	data, err := io.ReadAll(msg)
	if err != nil {
		return fmt.Errorf("mbox: reading the message: %w", err)
	}
	var sizer storage.WireSizer
	_, _ = sizer.Write(data)
	done, err := storage.IndexOf(&m.imported).Reserve(ctx, m, user, uidl, sizer.Size())
	if err != nil {
		return err
	}
	stored := false
	defer func() { done(stored) }()
	path, err := m.prepare(user)
	if err != nil {
		return err
	}
	key, err := spoolKey(path)
	if err != nil {
		return fmt.Errorf("mbox %s: the spool's key, which keeps imported UIDLs: %w", path, err)
	}
	received := env.Received
	if received.IsZero() {
		received = time.Now()
	}
	rec := buildRecord(fromLineSender(env.Sender), received, uidl, data, key)
	if err := m.appendToSpool(ctx, path, rec); err != nil {
		return err
	}
	stored = true
	return nil
}

var _ storage.Importer = (*Mbox)(nil)
