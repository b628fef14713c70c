// Package memstore is an in-memory storage backend: each user's maildrop
// is a list of messages in the process's memory, locked per session like
// the file backends. It is what the protocol engine's unit tests, the
// benchmarks and the examples of a new backend use; it is not a Caddy
// module (mail in it does not outlive the process). It passes the shared
// storage suite (storagetest) and can inject faults (SetFaults).
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Store is an in-memory storage backend, safe for concurrent use. The
// zero value is not ready: use New.
type Store struct {
	mu      sync.Mutex
	boxes   map[string][]message
	locked  map[string]uint64 // user -> the session (lock generation) holding it
	gen     uint64
	seq     uint64 // the last UIDL sequence number given
	faults  Faults
	commits int
}

// message is one stored message.
type message struct {
	uid  string
	data []byte
	size int64 // storage.WireSize(data), computed once
}

// Faults are failures a test injects into a Store.
type Faults struct {
	// CommitErr, when set, makes Commit delete nothing, release the lock
	// and return it (a disk error, or wrapped storage.ErrLockLost for a
	// lock that was taken over).
	CommitErr error
	// OpenErr, when set, makes opening a message fail with it (wrap
	// storage.ErrGone for a message removed behind the session's back).
	OpenErr error
}

// New returns an empty store.
func New() *Store {
	return &Store{boxes: map[string][]message{}, locked: map[string]uint64{}}
}

// SetFaults replaces the failures the store injects.
func (s *Store) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Add appends messages to user's maildrop (no lock needed, like a
// delivery: an open session does not see them).
func (s *Store) Add(user string, msgs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.appendLocked(user, "", []byte(m))
	}
}

// appendLocked stores data for user with the UIDL uid, or a new one.
func (s *Store) appendLocked(user, uid string, data []byte) {
	if uid == "" {
		s.seq++
		uid = "m" + strconv.FormatUint(s.seq, 10)
	}
	s.boxes[user] = append(s.boxes[user], message{uid: uid, data: data, size: storage.WireSize(data)})
}

// Remove removes the message of user whose UIDL is uid, the way another
// program would while a session may hold the maildrop: that session's
// snapshot still lists it, and opening it gives storage.ErrGone.
func (s *Store) Remove(user, uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	box := s.boxes[user]
	for i, m := range box {
		if m.uid == uid {
			s.boxes[user] = append(box[:i:i], box[i+1:]...)
			return
		}
	}
}

// hasLocked reports whether user's maildrop still holds the message uid.
func (s *Store) hasLocked(user, uid string) bool {
	for _, m := range s.boxes[user] {
		if m.uid == uid {
			return true
		}
	}
	return false
}

// Count returns how many messages user's maildrop holds.
func (s *Store) Count(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.boxes[user])
}

// Locked reports whether a session holds user's maildrop.
func (s *Store) Locked(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.locked[user]
	return ok
}

// LockedCount returns how many maildrops are held by sessions.
func (s *Store) LockedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.locked)
}

// Commits returns how many times a maildrop was committed.
func (s *Store) Commits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits
}

// Open locks user's maildrop and snapshots it.
func (s *Store) Open(ctx context.Context, user string) (storage.Maildrop, error) {
	if err := storage.ValidateUser(user); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.locked[user]; ok {
		return nil, storage.ErrInUse
	}
	s.gen++
	s.locked[user] = s.gen
	snap := append([]message(nil), s.boxes[user]...)
	msgs := make([]storage.Message, len(snap))
	for i, m := range snap {
		msgs[i] = storage.Message{UID: m.uid, Size: m.size}
	}
	return &maildrop{s: s, user: user, gen: s.gen, snap: snap, msgs: msgs}, nil
}

// Deliver appends msg to user's maildrop.
func (s *Store) Deliver(ctx context.Context, user string, _ storage.Envelope, msg io.Reader) error {
	data, err := readMessage(ctx, user, msg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendLocked(user, "", data)
	return nil
}

// readMessage checks user and reads msg for a delivery or an import.
func readMessage(ctx context.Context, user string, msg io.Reader) ([]byte, error) {
	if err := storage.ValidateUser(user); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(msg)
	if err != nil {
		return nil, fmt.Errorf("memstore: reading the message: %w", err)
	}
	return data, ctx.Err()
}

// Import appends msg to user's maildrop with the UIDL uidl, unless a
// message already has it.
func (s *Store) Import(ctx context.Context, user string, _ storage.Envelope, uidl string, msg io.Reader) error {
	if !storage.ValidUIDL(uidl) {
		return fmt.Errorf("UIDL %q: %w", uidl, storage.ErrUIDLNotStorable)
	}
	data, err := readMessage(ctx, user, msg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.boxes[user] {
		if m.uid != uidl {
			continue
		}
		if m.size != storage.WireSize(data) {
			return fmt.Errorf("UIDL %s: %w", uidl, storage.ErrUIDLConflict)
		}
		return fmt.Errorf("UIDL %s: %w", uidl, storage.ErrUIDLExists)
	}
	s.appendLocked(user, uidl, data)
	return nil
}

// maildrop is one session's locked snapshot.
type maildrop struct {
	s    *Store
	user string
	gen  uint64
	snap []message
	msgs []storage.Message
}

// Messages returns the snapshot taken at Open.
func (d *maildrop) Messages() []storage.Message { return d.msgs }

// Open returns the content of message i.
func (d *maildrop) Open(_ context.Context, i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(d.snap) {
		return nil, fmt.Errorf("message %d: %w", i+1, storage.ErrNoSuchMessage)
	}
	d.s.mu.Lock()
	err := d.s.faults.OpenErr
	present := d.s.hasLocked(d.user, d.snap[i].uid)
	d.s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, fmt.Errorf("message %d: %w", i+1, storage.ErrGone)
	}
	r := new(messageReader)
	r.Reset(d.snap[i].data)
	return r, nil
}

// messageReader is a message's content as Open returns it: one
// allocation, not a bytes.Reader and an io.NopCloser around it.
type messageReader struct{ bytes.Reader }

// Close does nothing.
func (*messageReader) Close() error { return nil }

// Commit removes the messages at the given indexes (by UIDL, so messages
// delivered since the snapshot stay), then releases the lock.
func (d *maildrop) Commit(_ context.Context, deleted []int) error {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	if !d.ownsLocked() {
		return nil
	}
	defer delete(d.s.locked, d.user)
	d.s.commits++
	if err := d.s.faults.CommitErr; err != nil {
		return err
	}
	if len(deleted) == 0 {
		return nil
	}
	gone := make(map[string]bool, len(deleted))
	var bad error
	for _, i := range deleted {
		if i < 0 || i >= len(d.snap) {
			bad = fmt.Errorf("message %d: %w", i+1, storage.ErrNoSuchMessage)
			continue
		}
		gone[d.snap[i].uid] = true
	}
	keep := d.s.boxes[d.user][:0:0]
	for _, m := range d.s.boxes[d.user] {
		if !gone[m.uid] {
			keep = append(keep, m)
		}
	}
	d.s.boxes[d.user] = keep
	return bad
}

// Close releases the lock, changing nothing.
func (d *maildrop) Close() error {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	if d.ownsLocked() {
		delete(d.s.locked, d.user)
	}
	return nil
}

// ownsLocked reports whether this session still holds the lock (Commit
// and Close release it once).
func (d *maildrop) ownsLocked() bool {
	g, ok := d.s.locked[d.user]
	return ok && g == d.gen
}

// Interface guards
var (
	_ storage.Store     = (*Store)(nil)
	_ storage.Deliverer = (*Store)(nil)
	_ storage.Importer  = (*Store)(nil)
	_ storage.Maildrop  = (*maildrop)(nil)
)
