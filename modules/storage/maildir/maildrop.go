package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/maildir/internal/ownerlock"
)

// errClosed is returned by a maildrop used after Commit or Close.
var errClosed = errors.New("maildrop is closed")

// maildrop is one session's locked snapshot of a maildir.
type maildrop struct {
	root   string
	dir    *dir // the maildir, and its cur/ and new/, while in use (see park.go)
	cur    *dir
	new    *dir
	park   parking
	lock   *ownerlock.Lock
	logger *zap.Logger
	format *uidlFormat // for messages listed in dovecot-uidlist
	// reuseXUIDL gives messages their X-UIDL header's value (reuse_xuidl).
	reuseXUIDL bool
	// noCache keeps the listing out of the listing cache
	// (listing_cache_size off).
	noCache bool
	files   []file
	msgs    []storage.Message
	closed  bool

	// listing is the cached listing files and msgs were made from (nil
	// when none was cached); relocated says that files no longer match
	// it (Open found a message renamed by another program).
	listing   *listing
	relocated bool

	// readOnly is set for a migration's source (see OpenSource): the
	// listing moves, renames and removes nothing, and there is no lock.
	readOnly bool
}

// Messages returns the snapshot taken at Open.
func (md *maildrop) Messages() []storage.Message { return md.msgs }

// Open returns the file of message i. When another program (an IMAP
// server changing flags) renamed it since the snapshot, Open finds it again
// by its base name; when it is gone, or something that is not a message
// is in its place, the error wraps storage.ErrGone.
func (md *maildrop) Open(_ context.Context, i int) (io.ReadCloser, error) {
	md.park.mu.Lock()
	defer md.park.mu.Unlock()
	if md.closed {
		return nil, errClosed
	}
	if i < 0 || i >= len(md.files) {
		return nil, fmt.Errorf("message %d: %w", i+1, storage.ErrNoSuchMessage)
	}
	if err := md.use(); err != nil {
		return nil, err
	}
	defer md.endOperation()
	f, err := md.openFile(md.files[i])
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	moved, found, lerr := md.locate(md.files[i].base)
	if lerr != nil {
		return nil, lerr
	}
	if !found {
		return nil, fmt.Errorf("maildir: message %d (%s) was removed by another program: %w", i+1, md.path(md.files[i]), storage.ErrGone)
	}
	md.files[i] = moved
	md.relocated = true
	f, err = md.openFile(moved)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("maildir: message %d (%s) was removed by another program: %w", i+1, md.path(moved), storage.ErrGone)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// openFile opens the message file f.
func (md *maildrop) openFile(f file) (*messageFile, error) {
	return md.dirOf(f.dir).openMessage(f.name)
}

// dirOf returns the open directory dirCur or dirNew.
func (md *maildrop) dirOf(name string) *dir {
	if name == dirNew {
		return md.new
	}
	return md.cur
}

// openSubdirs opens cur/ and new/ of the maildir (creating them when
// missing), refusing symbolic links.
func (md *maildrop) openSubdirs() error {
	var err error
	if md.cur, err = md.dir.sub(dirCur, true); err != nil {
		return err
	}
	md.new, err = md.dir.sub(dirNew, true)
	return err
}

// remove removes the message file f. A name that now holds something
// other than a regular file is left alone and reported as fs.ErrNotExist:
// the message is gone, and what is there is not this session's to delete.
func (md *maildrop) remove(f file) error {
	d := md.dirOf(f.dir)
	st, err := d.lstat(f.name)
	if err != nil {
		return err
	}
	if !st.regular {
		md.logger.Warn("leaving alone what replaced a deleted message", zap.String("file", md.path(f)), zap.String("kind", st.kind))
		return fs.ErrNotExist
	}
	return d.unlink(f.name)
}

// release unlocks the maildrop and closes its directories; md.park.mu is
// held.
func (md *maildrop) release() error {
	md.closed = true
	md.stopParking()
	err := md.lock.Unlock()
	md.cur.close()
	md.new.close()
	md.dir.close()
	return err
}

// Commit removes the messages at the given indexes, then unlocks. A message
// that is already gone is not an error; a message that cannot be removed
// is left intact, the others are still removed, and the first failure is
// returned.
func (md *maildrop) Commit(_ context.Context, deleted []int) error {
	md.park.mu.Lock()
	defer md.park.mu.Unlock()
	if md.closed {
		return errClosed
	}
	if len(deleted) > 0 {
		if err := md.use(); err != nil {
			_ = md.release()
			return fmt.Errorf("maildir %s: %d deletions failed, those messages are kept: %w", md.root, len(deleted), err)
		}
	}
	var (
		firstErr error
		failed   int
		index    map[string]file // base -> file, built on the first miss
		done     = make(map[int]bool, len(deleted))
	)
	// Our own deletions keep the listing cached (see forgetDeleted) when
	// nothing else changed the maildir since it was made.
	ownOnly := len(deleted) > 0 && md.listing != nil && !md.relocated
	if ownOnly {
		before, err := md.readStamps()
		ownOnly = err == nil && before == md.listing.stamps
	}
	for _, i := range deleted {
		if done[i] {
			continue
		}
		done[i] = true
		if i < 0 || i >= len(md.files) {
			failed++
			if firstErr == nil {
				firstErr = fmt.Errorf("message %d: %w", i+1, storage.ErrNoSuchMessage)
			}
			continue
		}
		err := md.remove(md.files[i])
		if errors.Is(err, fs.ErrNotExist) {
			ownOnly = false
			// Renamed (flags changed) or removed by another program.
			if index == nil {
				index, err = md.index()
			}
			if err == nil {
				if moved, ok := index[md.files[i].base]; ok {
					err = md.remove(moved)
				}
			}
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		}
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if ownOnly && firstErr == nil && len(done) > 0 {
		md.forgetDeleted(done)
	}
	uerr := md.release()
	if firstErr != nil {
		return fmt.Errorf("maildir %s: %d of %d deletions failed, those messages are kept: %w", md.root, failed, len(done), firstErr)
	}
	if uerr != nil {
		return fmt.Errorf("maildir %s: unlocking: %w", md.root, uerr)
	}
	return nil
}

// Close unlocks the maildir and changes nothing. It does nothing after
// Commit or a previous Close.
func (md *maildrop) Close() error {
	md.park.mu.Lock()
	defer md.park.mu.Unlock()
	if md.closed {
		return nil
	}
	if err := md.release(); err != nil {
		return fmt.Errorf("maildir %s: unlocking: %w", md.root, err)
	}
	return nil
}

// path returns the full path of f.
func (md *maildrop) path(f file) string {
	return filepath.Join(md.root, f.dir, f.name)
}

// locate finds the message with the given base in cur/ or new/.
func (md *maildrop) locate(base string) (file, bool, error) {
	index, err := md.index()
	if err != nil {
		return file{}, false, err
	}
	f, ok := index[base]
	return f, ok, nil
}

// index maps the base of every message now in cur/ and new/ to its file.
func (md *maildrop) index() (map[string]file, error) {
	index := make(map[string]file)
	for _, dir := range []string{dirNew, dirCur} {
		names, err := md.dirOf(dir).names()
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			index[baseOf(name)] = file{dir: dir, name: name, base: baseOf(name)}
		}
	}
	return index, nil
}

// forgetDeleted replaces the cached listing the session was made from by
// one without the messages it just deleted (the indexes in done), with
// the stamps the directories have now, unverified (see digest.go), and
// appends the change to the index file; the lock is still held.
func (md *maildrop) forgetDeleted(done map[int]bool) {
	prev := md.listing
	after, err := md.readStamps()
	if err != nil || after.future(time.Now()) {
		listings.drop(md.root)
		return
	}
	after.uidlist = prev.uidlist // not ours (see scan)
	files := make([]file, 0, len(md.files)-len(done))
	msgs := make([]storage.Message, 0, len(md.files)-len(done))
	j := &journalRecord{from: prev.stamps, to: after}
	for i, f := range md.files {
		if done[i] {
			j.removed = append(j.removed, f)
			continue
		}
		files, msgs = append(files, f), append(msgs, md.msgs[i])
	}
	next := newListing(files, msgs)
	if next == nil {
		listings.drop(md.root)
		return
	}
	next.root, next.format, next.stamps = md.root, prev.format, after
	// A deleted message that dovecot-uidlist names is one more orphan;
	// which of them it names is not kept, so the next extension waits
	// for a full listing.
	next.orphansKnown = prev.uidlist == (dirStamp{})
	ownChangeListings.Add(1)
	md.updateIndex(prev, next, j)
	listings.put(md.root, prev.format, next)
}
