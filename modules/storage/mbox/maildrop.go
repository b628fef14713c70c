//go:build unix

package mbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// errClosed is returned by a maildrop used after Commit or Close.
var errClosed = errors.New("maildrop is closed")

// maildrop is one session's locked snapshot of a spool.
type maildrop struct {
	store  *Mbox
	path   string
	entry  *spoolEntry
	lock   *spoolLock
	lay    layout     // the spool as it was at login
	key    []byte     // the spool's secret key (see spoolKey), nil if none
	saved  []uidEntry // the spool's UIDL list as this session wrote it
	msgs   []storage.Message
	closed bool // guarded by entry.mu
}

// snapshot reads the spool that lk has locked and returns the session's
// maildrop. It first finishes or undoes what a crashed commit left
// behind: it replays the journal of an in-place rewrite, or removes the new
// spool that was not renamed into place. Called with e.mu held.
func (m *Mbox) snapshot(path string, e *spoolEntry, lk *spoolLock) (*maildrop, error) {
	replayed, shift, err := replayJournal(path, lk.f)
	if err != nil {
		return nil, fmt.Errorf("mbox %s: finishing the in-place rewrite of a commit that did not complete: %w", path, err)
	} else if replayed {
		m.log().Warn("finished the in-place rewrite of a commit that did not complete", zap.String("spool", path))
	}
	if lk.f != nil {
		if err := repairAppend(path, lk.f, shift); err != nil {
			return nil, fmt.Errorf("mbox %s: removing the partial message of a delivery that did not complete: %w", path, err)
		}
	}
	if err := os.Remove(tempPath(path)); err == nil {
		m.log().Warn("removed the unfinished new spool of a commit that did not complete; the spool is as it was before that commit",
			zap.String("spool", path))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("mbox %s: removing the unfinished new spool: %w", path, err)
	}
	md := &maildrop{store: m, path: path, entry: e, lock: lk}
	if lk.f != nil {
		st, err := lk.f.Stat()
		if err != nil {
			return nil, fmt.Errorf("mbox %s: %w", path, err)
		}
		md.key, err = spoolKey(path)
		if err != nil {
			m.logOnce("key:"+path, "cannot read or create the spool's key: UIDLs given at delivery are not used", zap.String("spool", path), zap.Error(err))
		}
		md.lay, err = scanLayout(io.NewSectionReader(lk.f, 0, st.Size()), md.key)
		if err != nil {
			return nil, fmt.Errorf("mbox %s: reading: %w", path, err)
		}
		saved, err := readUIDList(path)
		if err != nil {
			m.log().Error("cannot read the spool's UIDL list", zap.String("spool", path), zap.Error(err))
		}
		md.saved, err = describe(lk.f, &md.lay, saved, m.uidlFormat())
		if err != nil {
			return nil, fmt.Errorf("mbox %s: reading: %w", path, err)
		}
		if !sameEntries(saved, md.saved) {
			// Saved before any of the new UIDLs is shown.
			if err := writeUIDList(path, md.saved); err != nil {
				m.logOnce("uidl:"+path, "cannot save the spool's UIDL list: UIDLs of mail from other MTAs may change", zap.String("spool", path), zap.Error(err))
			}
		}
	}
	md.msgs = make([]storage.Message, len(md.lay.msgs))
	for i, msg := range md.lay.msgs {
		md.msgs[i] = storage.Message{UID: msg.uid, Size: msg.size}
	}
	lk.keepFresh()
	return md, nil
}

// Messages returns the snapshot taken at Open.
func (md *maildrop) Messages() []storage.Message { return md.msgs }

// Open returns the content of message i, unquoted, as the handler sends
// it. The session's descriptor of the spool is read, so the snapshot
// stays readable even when another program replaces the spool file.
func (md *maildrop) Open(_ context.Context, i int) (io.ReadCloser, error) {
	md.entry.mu.Lock()
	closed := md.closed
	md.entry.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if i < 0 || i >= len(md.msgs) {
		return nil, fmt.Errorf("message %d: %w", i+1, storage.ErrNoSuchMessage)
	}
	return io.NopCloser(openContent(md.lock.f, &md.lay.msgs[i])), nil
}

// Commit removes the messages at the given indexes by rewriting the spool
// (see rewrite), then releases the locks. An index out of the snapshot is
// reported after the others are removed.
func (md *maildrop) Commit(_ context.Context, deleted []int) error {
	md.entry.mu.Lock()
	defer md.entry.mu.Unlock()
	if md.closed {
		return errClosed
	}
	md.closed = true

	del := make(map[int]bool, len(deleted))
	var rangeErr error
	for _, i := range deleted {
		if i < 0 || i >= len(md.msgs) {
			rangeErr = fmt.Errorf("message %d: %w", i+1, storage.ErrNoSuchMessage)
			continue
		}
		del[i] = true
	}
	err := md.rewrite(del)
	switch {
	case errors.Is(err, errCommitPending):
		err = fmt.Errorf("mbox %s: %w", md.path, err)
	case err != nil:
		err = fmt.Errorf("mbox %s: no message was deleted: %w", md.path, err)
	}
	if ferr := md.finish(); ferr != nil {
		md.store.log().Error("releasing the mailbox locks", zap.String("spool", md.path), zap.Error(ferr))
	}
	return errors.Join(err, rangeErr)
}

// Close releases the locks and changes nothing. It does nothing after
// Commit or a previous Close.
func (md *maildrop) Close() error {
	md.entry.mu.Lock()
	defer md.entry.mu.Unlock()
	if md.closed {
		return nil
	}
	md.closed = true
	if err := md.finish(); err != nil {
		return fmt.Errorf("mbox %s: releasing the locks: %w", md.path, err)
	}
	return nil
}

// finish releases the spool's locks and this process's claim on it.
// Called with entry.mu held.
func (md *maildrop) finish() error {
	err := md.lock.release()
	md.entry.session = nil
	spools.release(md.path, md.entry)
	return err
}
