// Package caddystore is the Caddy side of storage guest modules, shared by
// the pop3 handler, the pop3 commands (deliver, migrate) and the lmtp
// handler: the default storage of a handler that configures none, and one
// loader that provisions a storage module and asserts the interface the
// caller needs.
package caddystore

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// DefaultMaildirPath is the maildir path template of a handler that
// configures no storage: <caddy data dir>/pop3/mail/{pop3.user}/Maildir.
func DefaultMaildirPath() string {
	return filepath.Join(caddy.AppDataDir(), "pop3", "mail", storage.PlaceholderUser, "Maildir")
}

// DefaultStorage is the storage guest module (JSON, as under a handler's
// "storage" key) of a handler that configures none: maildir with its
// default path (DefaultMaildirPath), so that every handler and command
// finds the same mail.
func DefaultStorage() json.RawMessage {
	return json.RawMessage(`{"module":"maildir"}`)
}

// holder lets Caddy load a storage module from its JSON the way a handler
// does (the module is provisioned, and cleaned up with ctx).
type holder struct {
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=pop3.storage inline_key=module"`
}

// Load provisions the storage module configured by raw (DefaultStorage
// when raw is nil) and returns it as a T (storage.Store, or an optional
// interface such as storage.Deliverer), or an error saying that the module
// cannot do what T is for ("is not a storage backend", "cannot deliver
// mail").
func Load[T any](ctx caddy.Context, raw json.RawMessage, cannot string) (T, error) {
	var zero T
	if raw == nil {
		raw = DefaultStorage()
	}
	h := &holder{StorageRaw: raw}
	mod, err := ctx.LoadModule(h, "StorageRaw")
	if err != nil {
		return zero, fmt.Errorf("storage: %w", err)
	}
	t, ok := mod.(T)
	if !ok {
		return zero, fmt.Errorf("storage: module %T %s", mod, cannot)
	}
	return t, nil
}
