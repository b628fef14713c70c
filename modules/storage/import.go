package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Envelope is what a delivery or an import knows about a message besides
// its content.
type Envelope struct {
	// Sender is the envelope sender (SMTP MAIL FROM), "" if unknown.
	Sender string
	// Recipient is the envelope recipient, "" if unknown.
	Recipient string
	// Received is when the message arrived in its first maildrop; the
	// zero time means now.
	Received time.Time
}

// Importer is implemented by stores that can deliver a message keeping a
// UIDL it already has (a migration from another server keeps every
// client's record of what it downloaded). Import stores msg in the
// maildrop of user with the UIDL uidl and env.Received as its received
// time. When the maildrop already has a message with that UIDL, it stores
// nothing and returns an error wrapping ErrUIDLExists, or ErrUIDLConflict
// when that message visibly differs from msg (another size): so running an
// import twice copies nothing twice, and never gives two messages one
// UIDL. A UIDL the backend cannot keep as it is gives ErrUIDLNotStorable.
type Importer interface {
	Import(ctx context.Context, user string, env Envelope, uidl string, msg io.Reader) error
}

// Errors of Import.
var (
	// ErrUIDLExists means the maildrop already has a message with the
	// UIDL, of the same size: the message was imported before.
	ErrUIDLExists = errors.New("the maildrop already has a message with this UIDL")

	// ErrUIDLConflict means the maildrop already has a different message
	// (another size) with the UIDL; nothing was stored.
	ErrUIDLConflict = errors.New("the maildrop has a different message with this UIDL")

	// ErrUIDLNotStorable means the backend cannot keep this UIDL as it is.
	ErrUIDLNotStorable = errors.New("this storage cannot keep the UIDL as it is")
)

// ValidUIDL reports whether s is a valid UIDL: 1 to 70 characters in
// 0x21-0x7E (RFC 1939).
func ValidUIDL(s string) bool {
	if len(s) < 1 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ImportIndex is what an Importer knows of the UIDLs (and wire sizes) in
// the maildrops it imports into: read once per user through the store's
// own Open, then kept up to date with what the importer adds, so that
// importing n messages costs one listing, not n. It assumes that nothing
// else gives a message one of those UIDLs meanwhile (a migration runs
// before the switch); a backend that lists UIDLs uniquely still never
// shows two messages one UIDL. The zero value is ready to use.
type ImportIndex struct {
	mu    sync.Mutex
	users map[string]map[string]int64
}

// Reserve checks that user's maildrop (opened through store when not
// listed yet) has no message with uidl and marks uidl as taken; done must
// be called with whether the import stored the message (false gives the
// UIDL back). size is the wire size of the message to import.
func (x *ImportIndex) Reserve(ctx context.Context, store Store, user, uidl string, size int64) (done func(stored bool), err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.users == nil {
		x.users = make(map[string]map[string]int64)
	}
	known, ok := x.users[user]
	if !ok {
		md, err := store.Open(ctx, user)
		if err != nil {
			return nil, err
		}
		msgs := md.Messages()
		known = make(map[string]int64, len(msgs))
		for _, m := range msgs {
			known[m.UID] = m.Size
		}
		if err := md.Close(); err != nil {
			return nil, err
		}
		x.users[user] = known
	}
	if have, ok := known[uidl]; ok {
		if have != size {
			return nil, fmt.Errorf("UIDL %s (%d octets here, %d imported): %w", uidl, have, size, ErrUIDLConflict)
		}
		return nil, fmt.Errorf("UIDL %s: %w", uidl, ErrUIDLExists)
	}
	known[uidl] = size
	return func(stored bool) {
		if stored {
			return
		}
		x.mu.Lock()
		delete(x.users[user], uidl)
		x.mu.Unlock()
	}, nil
}

// indexes guards the lazy creation of import indexes (see IndexOf).
var indexes sync.Mutex

// IndexOf returns *p, first setting it to a new ImportIndex when it is
// nil: a store keeps a pointer to its index, so that copying the store's
// value (as Caddy does with module values) copies no lock.
func IndexOf(p **ImportIndex) *ImportIndex {
	indexes.Lock()
	defer indexes.Unlock()
	if *p == nil {
		*p = new(ImportIndex)
	}
	return *p
}
