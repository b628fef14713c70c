package pop3cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-pop3/caddy-pop3/internal/caddystore"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// deliverOptions are the flags of `caddy pop3 deliver`.
type deliverOptions struct {
	Config  string // the config file
	Adapter string // its adapter ("" to guess from the name)
	User    string // the user whose maildrop gets the message
	Server  string // the layer4 server whose pop3 handler to use ("" for any)
	Sender  string // the envelope sender ("" to take it from the message)
}

// deliver reads one message from stdin and delivers it into the maildrop
// of opts.User, through the storage of the pop3 handler of the config. It
// provisions that storage module alone: nothing listens, no admin API
// starts. It returns a sysexits(3) exit code, and an error when it is not
// ExitOK.
func deliver(ctx context.Context, opts deliverOptions, stdin io.Reader) (int, error) {
	if opts.Config == "" {
		return ExitUsage, errors.New("--config is required")
	}
	if opts.User == "" {
		return ExitUsage, errors.New("--user is required")
	}
	cfg, err := loadConfig(opts.Config, opts.Adapter)
	if err != nil {
		return ExitConfigError, err
	}
	raw, err := findStorage(cfg, opts.Server)
	if err != nil {
		return ExitConfigError, err
	}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: ctx})
	defer cancel()
	d, err := loadDeliverer(cctx, raw)
	if err != nil {
		return ExitConfigError, err
	}

	msg, err := io.ReadAll(stdin)
	if err != nil {
		return ExitIOErr, fmt.Errorf("reading the message from stdin: %w", err)
	}
	envelopeSender, msg := splitEnvelope(msg)
	if len(msg) == 0 {
		return ExitDataErr, errors.New("the message is empty")
	}
	msg = neutraliseMarkers(msg)
	sender := opts.Sender
	if sender == "" {
		sender = envelopeSender
	}
	if sender == "" {
		sender = returnPath(msg)
	}
	if err := d.Deliver(cctx, opts.User, storage.Envelope{Sender: sender}, bytes.NewReader(msg)); err != nil {
		return exitCode(err), fmt.Errorf("delivering to %s: %w", opts.User, err)
	}
	return ExitOK, nil
}

// loadDeliverer provisions the storage module configured by raw and
// returns it as a Deliverer.
func loadDeliverer(ctx caddy.Context, raw json.RawMessage) (storage.Deliverer, error) {
	return caddystore.Load[storage.Deliverer](ctx, raw, "cannot deliver mail")
}

// exitCode maps a delivery error to an exit code: an invalid user is
// permanent, a permission problem is EX_CANTCREAT, anything else (a
// mailbox that stayed locked, storage.ErrLockTimeout; an I/O error) is
// temporary.
func exitCode(err error) int {
	switch {
	case errors.Is(err, storage.ErrInvalidUser):
		return ExitNoUser
	case errors.Is(err, fs.ErrPermission):
		return ExitCantCreat
	default:
		return ExitTempFail
	}
}
