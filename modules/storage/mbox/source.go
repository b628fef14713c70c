//go:build unix

package mbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/dovecotuidl"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Source is a spool opened read-only, to copy its mail elsewhere (`caddy
// pop3 migrate`). It lists the messages with the UIDLs and sizes a
// session shows (from the marker lines, the UIDL list and X-UIDL header
// fields, or the content hashes), but takes no lock and writes nothing:
// no key, no UIDL list, no repair. It reads the spool as it was at
// OpenSource: mail appended later is not in it.
type Source struct {
	f   *os.File
	lay layout
	msg []storage.Message
}

func init() {
	storage.RegisterSourceOf("mbox", OpenSourceFormat, CheckUIDLFormat)
}

// Interface guard
var _ storage.Source = (*Source)(nil)

// OpenSource opens the spool at path read-only and lists its messages.
// A symbolic link or a file that is not regular is refused.
func OpenSource(ctx context.Context, path string) (*Source, error) {
	return OpenSourceFormat(ctx, path, "")
}

// OpenSourceFormat is OpenSource with the Dovecot pop3_uidl_format the
// spool's server used ("" for Dovecot's default; only %u and %v).
func OpenSourceFormat(ctx context.Context, path, format string) (*Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	uf := defaultUIDLFormat
	if format != "" {
		var err error
		if uf, err = dovecotuidl.Parse(format, mboxVars); err != nil {
			return nil, fmt.Errorf("uidl format %q: %w", format, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("mbox: %w", err)
	}
	s := &Source{f: f}
	if err := s.read(path, uf); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("mbox %s: %w", path, err)
	}
	return s, nil
}

// read lists the spool.
func (s *Source) read(path string, uf *dovecotuidl.Format) error {
	st, err := s.f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	key, err := readKey(keyPath(path))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the spool's key: %w", err)
	}
	if s.lay, err = scanLayout(io.NewSectionReader(s.f, 0, st.Size()), key); err != nil {
		return err
	}
	saved, err := readUIDList(path)
	if err != nil {
		return fmt.Errorf("the UIDL list: %w", err)
	}
	if _, err := describe(s.f, &s.lay, saved, uf); err != nil {
		return err
	}
	s.msg = make([]storage.Message, len(s.lay.msgs))
	for i, m := range s.lay.msgs {
		s.msg[i] = storage.Message{UID: m.uid, Size: m.size}
	}
	return nil
}

// Messages returns the messages in the order of the spool.
func (s *Source) Messages() []storage.Message { return s.msg }

// Open returns the content of message i, unquoted, as a session sends it.
func (s *Source) Open(_ context.Context, i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(s.msg) {
		return nil, storage.ErrNoSuchMessage
	}
	return io.NopCloser(openContent(s.f, &s.lay.msgs[i])), nil
}

// Received returns the date of message i's From_ line ("From sender
// date", asctime format), or the zero time when it has none that parses.
func (s *Source) Received(i int) (time.Time, error) {
	if i < 0 || i >= len(s.msg) {
		return time.Time{}, storage.ErrNoSuchMessage
	}
	return fromLineDate(string(s.lay.msgs[i].fromLine)), nil
}

// fromLineDate parses the date of a From_ line: the asctime date after the
// sender, with an optional time zone or year variant as some MTAs write.
func fromLineDate(line string) time.Time {
	rest, ok := strings.CutPrefix(line, "From ")
	if !ok {
		return time.Time{}
	}
	_, date, ok := strings.Cut(strings.TrimLeft(rest, " "), " ")
	if !ok {
		return time.Time{}
	}
	date = strings.TrimSpace(date)
	for _, layout := range []string{time.ANSIC, "Mon Jan _2 15:04:05 MST 2006", "Mon Jan _2 15:04:05 2006 -0700", "Mon Jan _2 15:04 2006"} {
		if t, err := time.ParseInLocation(layout, date, time.UTC); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Close closes the spool.
func (s *Source) Close() error { return s.f.Close() }
