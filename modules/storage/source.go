package storage

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Source is a maildrop of another server (a Dovecot maildir, an mbox
// spool), opened read-only for a migration (`caddy pop3 migrate`). It
// lists what a session would list and keeps no lock.
type Source interface {
	// Messages returns the messages, oldest first, with the UIDLs the
	// source's server showed.
	Messages() []Message
	// Open returns the content of message i, as a session sends it
	// before CRLF conversion and dot-stuffing.
	Open(ctx context.Context, i int) (io.ReadCloser, error)
	// Received returns when message i was delivered.
	Received(i int) (time.Time, error)
	// Close releases what the source holds.
	Close() error
}

// SourceKind is a kind of migration source, registered by the backend
// that reads that format (maildir, mbox), so that the migrate command
// needs no backend of its own.
type SourceKind struct {
	// Name is the kind in `--from <name>:<path>`.
	Name string
	// Open opens the source at path read-only; uidlFormat is the source
	// server's UIDL format ("" for its default).
	Open func(ctx context.Context, path, uidlFormat string) (Source, error)
	// CheckUIDLFormat says whether uidlFormat can be reproduced for this
	// kind.
	CheckUIDLFormat func(uidlFormat string) error
}

var (
	sourcesMu sync.RWMutex
	sources   = map[string]SourceKind{}
)

// RegisterSource makes a kind of migration source known; backends call
// it from init. It panics when the name is taken.
func RegisterSource(k SourceKind) {
	sourcesMu.Lock()
	defer sourcesMu.Unlock()
	if _, ok := sources[k.Name]; ok {
		panic("storage: migration source " + k.Name + " registered twice")
	}
	sources[k.Name] = k
}

// LookupSource returns the migration source kind called name, or an
// error that lists the kinds this build has.
func LookupSource(name string) (SourceKind, error) {
	sourcesMu.RLock()
	defer sourcesMu.RUnlock()
	if k, ok := sources[name]; ok {
		return k, nil
	}
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	slices.Sort(names)
	return SourceKind{}, fmt.Errorf("unknown source kind %q (this build reads: %v)", name, names)
}

// RegisterSourceOf registers the source kind name whose open function
// returns a concrete type S (so that a nil *S with an error never becomes
// a non-nil Source).
func RegisterSourceOf[S Source](name string, open func(ctx context.Context, path, uidlFormat string) (S, error), checkUIDLFormat func(string) error) {
	RegisterSource(SourceKind{
		Name: name,
		Open: func(ctx context.Context, path, uidlFormat string) (Source, error) {
			s, err := open(ctx, path, uidlFormat)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		CheckUIDLFormat: checkUIDLFormat,
	})
}
