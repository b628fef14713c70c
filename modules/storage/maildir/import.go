package maildir

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Import stores msg in the user's maildir keeping the UIDL uidl: the
// message file's unique base name is the UIDL itself (the UIDL of a
// maildir message is its base name), so nothing beside the file records
// it and no other program can take it away; its modification time is
// env.Received. A UIDL that cannot be a base name (it has '/', ',', ':',
// ';', '\' or starts with '.') gives storage.ErrUIDLNotStorable. See
// storage.Importer for UIDLs that are already in the maildir.
func (m *Maildir) Import(ctx context.Context, user string, env storage.Envelope, uidl string, msg io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !validBaseName(uidl) {
		return fmt.Errorf("maildir: UIDL %q cannot be a file name: %w", uidl, storage.ErrUIDLNotStorable)
	}
	data, err := io.ReadAll(msg)
	if err != nil {
		return fmt.Errorf("maildir: reading the message: %w", err)
	}
	var sizer storage.WireSizer
	_, _ = sizer.Write(data)
	done, err := storage.IndexOf(&m.imported).Reserve(ctx, m, user, uidl, sizer.Size())
	if err != nil {
		return err
	}
	rootDir, err := m.openRoot(user)
	if err != nil {
		done(false)
		return err
	}
	defer rootDir.close()
	err = deliverAs(ctx, rootDir, uidl, env.Received, bytes.NewReader(data))
	done(err == nil)
	return err
}

// validBaseName reports whether the UIDL s can be the unique base of a
// maildir file name and be shown as the UIDL again (see uidFor).
func validBaseName(s string) bool {
	return validUID(s) && s[0] != '.' && !strings.ContainsAny(s, `/\,:;`)
}

var _ storage.Importer = (*Maildir)(nil)
