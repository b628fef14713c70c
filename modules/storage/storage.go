// Package storage defines what a caddy-pop3 storage backend is: a Store that
// opens a user's Maildrop, locked for the session, as a snapshot of the
// messages that were there at login. Backends are Caddy modules in the
// pop3.storage namespace (pop3.storage.maildir, pop3.storage.mbox, ...).
//
// The POP3 handler owns the wire (CRLF conversion, dot-stuffing, buffering);
// a backend owns the bytes at rest and the locking.
package storage

import (
	"context"
	"errors"
	"io"
)

// Errors a Store or Maildrop returns; the handler maps them to POP3
// response codes.
var (
	// ErrInUse means another session (in this process or another one)
	// holds the maildrop's lock. The handler answers -ERR [IN-USE].
	ErrInUse = errors.New("maildrop is in use by another session")

	// ErrInvalidUser means the user name cannot be turned into a storage
	// location safely (path separators, "..", control characters, ...).
	ErrInvalidUser = errors.New("user name is not valid for this storage")

	// ErrNoSuchMessage means a message index is out of range.
	ErrNoSuchMessage = errors.New("no such message")

	// ErrGone means a message of the snapshot is no longer in the
	// maildrop: another program removed it since the session began, or
	// put something that is not a message (a symbolic link, a FIFO, a
	// directory) in its place. Asking again will not bring it back; the
	// handler answers -ERR [SYS/PERM] rather than [SYS/TEMP].
	ErrGone = errors.New("message is no longer in the maildrop")

	// ErrLockLost is returned (wrapped) by Commit when the session's lock
	// was taken over by another session (a lease that lapsed while the
	// process was paused or cut off): nothing was deleted. The handler
	// answers -ERR [IN-USE] saying so.
	ErrLockLost = errors.New("the maildrop lock was lost to another session; nothing was deleted")

	// ErrLockTimeout is returned (wrapped) by Deliver when the maildrop
	// stayed locked by another program for longer than the backend waits
	// (mbox's lock_timeout): nothing was stored, and trying again later
	// will work. Delivery agents answer with a temporary failure.
	ErrLockTimeout = errors.New("timed out waiting for the maildrop lock")
)

// Store is a storage backend: it opens users' maildrops. A Store is shared by
// all the sessions of a handler and must be safe for concurrent use.
type Store interface {
	// Open locks the user's maildrop and returns a snapshot of it. It
	// returns ErrInUse when the maildrop is locked by another session and
	// ErrInvalidUser when user cannot name a maildrop. A maildrop that does
	// not exist yet is an empty one, not an error.
	Open(ctx context.Context, user string) (Maildrop, error)
}

// Message describes one message of a maildrop snapshot.
type Message struct {
	// UID is the message's unique-id listing (UIDL): persistent across
	// sessions, unique in the maildrop, 1 to 70 characters in 0x21-0x7E.
	UID string

	// Size is the size of the message in octets as sent on the wire: with
	// CRLF line endings, before dot-stuffing.
	Size int64
}

// Maildrop is one user's locked maildrop, as a snapshot taken at Open.
// Message numbers are indexes into Messages (0-based here, 1-based on the
// wire) and never change during the session. A Maildrop is used by a single
// session at a time.
type Maildrop interface {
	// Messages returns the snapshot taken at Open. The slice must not be
	// modified by the caller.
	Messages() []Message

	// Open returns the content of message i as stored (LF or CRLF line
	// endings, not dot-stuffed). The caller closes it. It returns an
	// error wrapping ErrGone when the message was removed (or replaced by
	// something that is not a message) since the snapshot, and must never
	// block on what it finds in the message's place.
	// ctx bounds the work of opening (a database backend's query); the
	// reader is not bound by it.
	Open(ctx context.Context, i int) (io.ReadCloser, error)

	// Commit permanently removes the messages at the given indexes (the
	// POP3 UPDATE state), then releases the lock. A message that is already
	// gone is not an error. On any other failure, Commit removes what it
	// can, keeps every message it could not remove intact, releases the
	// lock and returns an error.
	// ctx bounds the commit's work where the backend can stop safely (a
	// transaction that is rolled back); a backend never leaves a commit
	// half-applied because ctx ended.
	Commit(ctx context.Context, deleted []int) error

	// Close releases the lock and changes nothing. Calling Close after
	// Commit is allowed and does nothing.
	Close() error
}

// Deliverer is implemented by stores that can also deliver mail: append
// one message to a user's maildrop, so tools and tests can put mail in
// without knowing the backend. Delivery must not disturb an open session's
// snapshot: the new message appears in the next session.
type Deliverer interface {
	// Deliver stores msg (an RFC 5322 message, LF or CRLF line endings)
	// in the maildrop of user. env says what the transport knows of the
	// message (the envelope sender an mbox From_ line records, the
	// received time); its zero value means "unknown, now".
	Deliver(ctx context.Context, user string, env Envelope, msg io.Reader) error
}
