package maildir

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Source is a maildir opened read-only, to copy its mail elsewhere (`caddy
// pop3 migrate`). It lists messages with the UIDLs and sizes a session
// shows, but unlike a session it moves nothing from new/ to cur/, renames
// and removes nothing, takes no lock and writes no file: another server
// may still be serving the maildir.
type Source struct {
	md *maildrop
}

func init() {
	storage.RegisterSourceOf("maildir", OpenSourceFormat, CheckUIDLFormat)
}

// Interface guard
var _ storage.Source = (*Source)(nil)

// OpenSource opens the maildir at path (a directory with cur/ and new/)
// read-only and lists its messages. Symbolic links are not followed below
// path.
func OpenSource(ctx context.Context, path string) (*Source, error) {
	return OpenSourceFormat(ctx, path, "")
}

// CheckUIDLFormat reports whether format is a pop3_uidl_format a maildir
// can use (as `storage maildir { uidl_format }` accepts).
func CheckUIDLFormat(format string) error {
	_, err := parseUIDLFormat(format)
	return err
}

// OpenSourceFormat is OpenSource with the Dovecot pop3_uidl_format the
// source's server used for messages listed in dovecot-uidlist ("" for
// DefaultUIDLFormat).
func OpenSourceFormat(ctx context.Context, path, format string) (*Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	uf := defaultUIDLFormat
	if format != "" {
		var err error
		if uf, err = parseUIDLFormat(format); err != nil {
			return nil, fmt.Errorf("uidl format %q: %w", format, err)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	root, err := openTree(filepath.Dir(abs), filepath.Base(abs), false)
	if err != nil {
		return nil, fmt.Errorf("opening maildir %s: %w", abs, err)
	}
	md := &maildrop{root: abs, dir: root, logger: zap.NewNop(), readOnly: true, format: uf}
	s := &Source{md: md}
	if md.cur, err = root.sub(dirCur, false); err == nil {
		md.new, err = root.sub(dirNew, false)
	}
	if err == nil {
		_, err = md.list(nil)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("maildir %s: %w", abs, err)
	}
	return s, nil
}

// Messages returns the messages, oldest first, as a session lists them.
func (s *Source) Messages() []storage.Message { return s.md.msgs }

// Open returns the content of message i (found again by its base name
// when another program renamed it; storage.ErrGone when it was removed).
func (s *Source) Open(ctx context.Context, i int) (io.ReadCloser, error) { return s.md.Open(ctx, i) }

// Received returns when message i was delivered: the modification time
// of its file, which maildir software leaves alone.
func (s *Source) Received(i int) (time.Time, error) {
	if i < 0 || i >= len(s.md.files) {
		return time.Time{}, storage.ErrNoSuchMessage
	}
	f := s.md.files[i]
	st, err := s.md.dirOf(f.dir).lstat(f.name)
	if err != nil {
		return time.Time{}, err
	}
	return st.mtime, nil
}

// Close closes the maildir's directories.
func (s *Source) Close() error {
	s.md.closed = true
	s.md.cur.close()
	s.md.new.close()
	s.md.dir.close()
	return nil
}
