// Package mbox is the pop3.storage.mbox storage backend: each user's
// maildrop is a classic Unix mail spool (/var/mail/<user>), one file of
// messages in the mbox format, as Postfix's local(8), Exim, procmail and
// mail readers such as mutt write and read it.
//
// It reads mboxrd and mboxo spools and delivers in mboxrd; it locks the
// spool the way MTAs expect (dotlock, flock and fcntl) for the whole of a
// session; it commits deletions by rewriting the spool in place behind a
// redo journal (inplace.go), and appends behind a note that lets the next
// locker cut away what a killed delivery left (append.go). See the README
// section "Storage: mbox" for what users need to know.
package mbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/caddystore"
	"github.com/caddy-pop3/caddy-pop3/internal/dovecotuidl"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

func init() {
	caddy.RegisterModule(Mbox{})
}

// DefaultPath is the spool path template used when none is configured:
// the classic mail spool.
const DefaultPath = "/var/mail/" + storage.PlaceholderUser

// DefaultLockTimeout is how long a delivery waits for a locked spool
// before it gives up with a temporary error, when lock_timeout is not set.
const DefaultLockTimeout = 30 * time.Second

// openLockWait is how long opening a session waits for a spool that
// another process (an MTA delivering, a mail reader) has locked, before it
// says the maildrop is in use. A session of this process holding it is
// reported at once.
const openLockWait = 2 * time.Second

// retryDelay is the pause between two attempts to lock a busy spool (a
// random part of it is added, so that waiting processes do not retry in
// step).
const retryDelay = 50 * time.Millisecond

// ErrLockTimeout is returned (wrapped) by Deliver when the spool stayed
// locked for the whole lock timeout: a temporary failure, to try again
// later. It is storage.ErrLockTimeout, so that delivery agents need not
// know this backend.
var ErrLockTimeout = storage.ErrLockTimeout

// Mbox is a storage backend that keeps each user's mail in one mbox file.
//
// A session locks the spool from login to the end of the session, so an
// MTA that honours the locks waits (and eventually defers the message)
// rather than writing into a spool that is being rewritten; deliveries by
// this process during the session are appended under the session's lock
// and appear in the next session. UIDLs come from an authenticated marker
// line that Deliver adds and reading hides, or from the spool's UIDL list,
// or, for a message seen for the first time, from an X-UIDL header or a
// hash of the message (see describe).
type Mbox struct {
	// Path is the spool file of a user, as a template with the
	// placeholders {pop3.user}, {pop3.user.local} and
	// {pop3.user.domain} (and Caddy's global ones such as {env.*}).
	// Default: /var/mail/{pop3.user}.
	Path string `json:"path,omitempty"`

	// LockTimeout is how long a delivery waits for a locked spool (a
	// session holds the lock until it ends) before failing with a
	// temporary error. Default: 30s.
	LockTimeout caddy.Duration `json:"lock_timeout,omitempty"`

	// UIDLFormat is Dovecot's pop3_uidl_format as the site had it: a
	// message Dovecot served (an X-UID header, with the UIDVALIDITY of an
	// X-IMAPbase or X-IMAP header in the spool) is first shown with the
	// UIDL this format gives. %u (IMAP UID) and %v (UIDVALIDITY), with an
	// optional zero-padded width and the X (hex) modifier. Default:
	// %08Xu%08Xv, Dovecot's default.
	UIDLFormat string `json:"uidl_format,omitempty"`

	logger   *zap.Logger
	format   *dovecotuidl.Format
	imported *storage.ImportIndex // see Import; made on first use
	openWait time.Duration        // openLockWait, unless set (tests)
}

// CaddyModule returns the Caddy module information.
func (Mbox) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "pop3.storage.mbox",
		New: func() caddy.Module { return new(Mbox) },
	}
}

// Provision sets the defaults and checks the path template. On Windows it
// fails: mbox needs the spool locks of Unix (see spool_windows.go).
func (m *Mbox) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	if err := platformSupported(); err != nil {
		return err
	}
	if m.Path == "" {
		m.Path = DefaultPath
	}
	if m.LockTimeout == 0 {
		m.LockTimeout = caddy.Duration(DefaultLockTimeout)
	}
	return m.Validate()
}

// Validate checks the configuration.
func (m *Mbox) Validate() error {
	if m.Path != "" {
		if err := caddystore.ValidateTemplate(m.Path); err != nil {
			return fmt.Errorf("mbox: %w", err)
		}
		if strings.HasSuffix(m.Path, "/") {
			return fmt.Errorf("mbox: path %q names a directory; it must name the spool file", m.Path)
		}
	}
	if m.LockTimeout < 0 {
		return fmt.Errorf("mbox: lock_timeout must not be negative")
	}
	if m.UIDLFormat != "" {
		f, err := dovecotuidl.Parse(m.UIDLFormat, mboxVars)
		if err != nil {
			return fmt.Errorf("mbox: uidl_format: %w", err)
		}
		m.format = f
	}
	return nil
}

// mboxVars are the pop3_uidl_format variables an mbox spool can derive.
const mboxVars = "uv"

// defaultUIDLFormat is Dovecot's default pop3_uidl_format, compiled.
var defaultUIDLFormat = dovecotuidl.MustParse(dovecotuidl.Default, mboxVars)

// uidlFormat returns the compiled uidl_format (the default when none is
// set or the module was not provisioned).
func (m *Mbox) uidlFormat() *dovecotuidl.Format {
	if m == nil || m.format == nil {
		return defaultUIDLFormat
	}
	return m.format
}

// spoolPath expands the path template for user into an absolute, clean
// path. A user whose spool would be named like a dotlock is refused: its
// spool would be another user's lock file.
func (m *Mbox) spoolPath(user string) (string, error) {
	tmpl := m.Path
	if tmpl == "" {
		tmpl = DefaultPath
	}
	p, err := caddystore.ExpandPath(tmpl, user)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(p, DotlockSuffix) {
		return "", storage.ErrInvalidUser
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("mbox: %w", err)
	}
	return abs, nil
}

// prepare returns the spool path of user, with its directory created
// (mode 0700) if it does not exist.
func (m *Mbox) prepare(user string) (string, error) {
	path, err := m.spoolPath(user)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("mbox: creating the spool directory: %w", err)
	}
	return path, nil
}

// Open locks the user's spool and returns a snapshot of its messages. A
// spool that does not exist is an empty maildrop (it is not created: an
// MTA creates it with the right owner at the first delivery).
func (m *Mbox) Open(ctx context.Context, user string) (storage.Maildrop, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := m.prepare(user)
	if err != nil {
		return nil, err
	}
	e := spools.acquire(path)
	md, err := m.open(ctx, path, e)
	if err != nil {
		spools.release(path, e)
		return nil, err
	}
	return md, nil
}

// open takes the spool's locks, waiting up to openLockWait for another
// process, and takes the snapshot.
func (m *Mbox) open(ctx context.Context, path string, e *spoolEntry) (*maildrop, error) {
	wait := openLockWait
	if m.openWait > 0 {
		wait = m.openWait
	}
	deadline := time.Now().Add(wait)
	for {
		e.mu.Lock()
		if e.session != nil {
			e.mu.Unlock()
			return nil, storage.ErrInUse
		}
		lk, noDotlock, err := lockSpool(path, false)
		m.warnNoDotlock(path, noDotlock)
		if err == nil {
			md, err := m.snapshot(path, e, lk)
			if err != nil {
				_ = lk.release()
				e.mu.Unlock()
				return nil, err
			}
			e.session = md
			e.mu.Unlock()
			return md, nil
		}
		e.mu.Unlock()
		if !errors.Is(err, errBusy) {
			return nil, fmt.Errorf("mbox %s: %w", path, err)
		}
		if !pause(ctx, deadline) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, storage.ErrInUse
		}
	}
}

// lockTimeout returns the configured lock timeout or the default.
func (m *Mbox) lockTimeout() time.Duration {
	if m.LockTimeout > 0 {
		return time.Duration(m.LockTimeout)
	}
	return DefaultLockTimeout
}

// pause waits retryDelay (plus up to as much again, at random) before the
// next attempt to lock a busy spool. It returns false, without waiting the
// whole delay, when the deadline passes or ctx is done first.
func pause(ctx context.Context, deadline time.Time) bool {
	left := time.Until(deadline)
	if left <= 0 {
		return false
	}
	d := min(retryDelay+rand.N(retryDelay), left)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return time.Now().Before(deadline)
	}
}

// warned remembers the directories already reported as not allowing
// dotlocks, so that the warning is logged once.
var warned sync.Map

// warnNoDotlock logs, once per directory, that spools there are locked
// without a dotlock.
func (m *Mbox) warnNoDotlock(path string, noDotlock bool) {
	if !noDotlock {
		return
	}
	dir := filepath.Dir(path)
	if _, loaded := warned.LoadOrStore(dir, true); loaded {
		return
	}
	m.log().Warn("cannot create dotlocks in the spool directory: locking spools with flock and fcntl only; give this process write access to the directory (for example the group 'mail') so that MTAs that only use dotlocks are kept out too",
		zap.String("directory", dir))
}

// logOnce logs an error once per key (a spool and what went wrong with
// it) in this process, so that a lasting problem does not flood the log.
func (m *Mbox) logOnce(key, msg string, fields ...zap.Field) {
	if _, loaded := warned.LoadOrStore(key, true); !loaded {
		m.log().Error(msg, fields...)
	}
}

// log returns the module's logger, or one that discards everything when
// the module was not provisioned (tests, tools).
func (m *Mbox) log() *zap.Logger {
	if m.logger == nil {
		return zap.NewNop()
	}
	return m.logger
}

// Interface guards.
var (
	_ caddy.Provisioner     = (*Mbox)(nil)
	_ caddy.Validator       = (*Mbox)(nil)
	_ caddyfile.Unmarshaler = (*Mbox)(nil)
	_ storage.Store         = (*Mbox)(nil)
	_ storage.Deliverer     = (*Mbox)(nil)
)

// CheckUIDLFormat reports whether format is a pop3_uidl_format an mbox
// spool can use (as `storage mbox { uidl_format }` accepts: %u and %v).
func CheckUIDLFormat(format string) error {
	_, err := dovecotuidl.Parse(format, mboxVars)
	return err
}
