// Package maildir is the pop3.storage.maildir storage backend: each user's
// maildrop is a Maildir (cur/, new/, tmp/) as Postfix, OpenSMTPD, Dovecot
// LDA and other maildir software write it. It is the default backend of the
// POP3 handler.
package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/internal/caddystore"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/maildir/internal/ownerlock"
)

func init() {
	caddy.RegisterModule(Maildir{})
}

// LockFileName is the name of the file, in the root of each maildir, that
// is the maildrop's lock (an ownerlock.Lock): created at the first login,
// it stays, and holds either the record of the process whose session holds
// the maildrop or a free record.
const LockFileName = "caddy-pop3.lock"

// The subdirectories of a maildir.
const (
	dirCur = "cur"
	dirNew = "new"
	dirTmp = "tmp"
)

// Maildir is a storage backend that keeps each user's mail in a Maildir.
// At login it moves new mail from new/ to cur/ (adding the ":2," info, as
// other maildir servers do), sizes each message once and records the size
// in the file name (",W=<octets>"), and lists messages oldest first. UIDLs
// are the messages' unique base names, so they survive flag changes by an
// IMAP server and renames by this backend.
type Maildir struct {
	// Path is the maildir of a user, as a template with the placeholders
	// {pop3.user}, {pop3.user.local} and {pop3.user.domain} (and Caddy's
	// global ones such as {env.*}). Default:
	// <caddy data dir>/pop3/mail/{pop3.user}/Maildir.
	Path string `json:"path,omitempty"`

	// UIDLFormat is Dovecot's pop3_uidl_format as the site had it: the
	// UIDL of each message listed in a maildir's dovecot-uidlist is made
	// with it, so that clients do not download again what Dovecot served
	// them. One of Dovecot's variables %u (IMAP UID), %v (UIDVALIDITY),
	// %f (file name up to its ':') and %g (GUID), with an optional zero-padded
	// width and X (hex) modifier. Default: %08Xu%08Xv, Dovecot's default.
	UIDLFormat string `json:"uidl_format,omitempty"`

	// ReuseXUIDL, as Dovecot's pop3_reuse_xuidl, gives a message that
	// dovecot-uidlist does not name the value of its X-UIDL header field
	// as its UIDL, when that is a valid UIDL no other message has. Off by
	// default: the header comes from the sender, and every listing that
	// is not cached then reads the header of every message.
	ReuseXUIDL bool `json:"reuse_xuidl,omitempty"`

	// ListingCacheSize is the memory budget in bytes of the listing cache,
	// which lets a login into an unchanged maildir skip listing and
	// parsing it; the least recently used maildirs are evicted to stay
	// within it. The cache is shared by every maildir store of the
	// process, so the store loaded last sets its size. 0 means
	// DefaultListingCacheSize (64 MiB, about 800,000 messages); -1 ("off")
	// keeps this store's maildirs out of the cache.
	ListingCacheSize int64 `json:"listing_cache_size,omitempty"`

	logger   *zap.Logger
	format   *uidlFormat
	imported *storage.ImportIndex // see Import; made on first use
}

// CaddyModule returns the Caddy module information.
func (Maildir) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "pop3.storage.maildir",
		New: func() caddy.Module { return new(Maildir) },
	}
}

// DefaultPath returns the maildir path template used when none is
// configured (caddystore.DefaultMaildirPath).
func DefaultPath() string { return caddystore.DefaultMaildirPath() }

// Provision sets the default path and checks the path template.
func (m *Maildir) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	warnPlatform(m.logger)
	if m.Path == "" {
		m.Path = DefaultPath()
	}
	if err := caddystore.ValidateTemplate(m.Path); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if m.UIDLFormat != "" {
		f, err := parseUIDLFormat(m.UIDLFormat)
		if err != nil {
			return fmt.Errorf("maildir: uidl_format: %w", err)
		}
		m.format = f
	}
	switch {
	case m.ListingCacheSize == ListingCacheOff:
	case m.ListingCacheSize == 0:
		listings.setBudget(DefaultListingCacheSize)
	case m.ListingCacheSize > 0:
		listings.setBudget(m.ListingCacheSize)
	default:
		return fmt.Errorf("maildir: listing_cache_size: %d is neither a size in bytes nor -1 (off)", m.ListingCacheSize)
	}
	return nil
}

// ListingCacheOff is the ListingCacheSize that keeps a store's maildirs
// out of the listing cache.
const ListingCacheOff = -1

// uidlFormat returns the compiled uidl_format (the default when none is
// set or the module was not provisioned).
func (m *Maildir) uidlFormat() *uidlFormat {
	if m.format == nil {
		return defaultUIDLFormat
	}
	return m.format
}

// Open locks the user's maildir, creating it if it does not exist, moves
// new mail into cur/ and returns a snapshot of the messages. The maildir,
// its cur/ and new/ are opened refusing symbolic links, and every file of
// the session is reached through them (see dir_unix.go); the maildir is
// only created when it is found missing, so a login into an existing one
// costs no mkdir. They are closed when Open returns and opened again,
// checked to be the same directories, when the session needs them (see
// park.go), so an idle session holds no file descriptor.
func (m *Maildir) Open(ctx context.Context, user string) (storage.Maildrop, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rootDir, prefix, rel, err := m.openRootAt(user)
	if err != nil {
		return nil, err
	}
	root := rootDir.path
	lock, err := ownerlock.Acquire(filepath.Join(root, LockFileName))
	if err != nil {
		rootDir.close()
		if errors.Is(err, storage.ErrInUse) {
			return nil, err
		}
		return nil, fmt.Errorf("maildir %s: %w", root, err)
	}
	md := &maildrop{root: root, dir: rootDir, lock: lock, logger: m.log(), format: m.uidlFormat(), reuseXUIDL: m.ReuseXUIDL,
		noCache: m.ListingCacheSize == ListingCacheOff}
	if err := md.openSubdirs(); err != nil {
		_ = md.release()
		return nil, err
	}
	if err := md.remember(prefix, rel); err != nil {
		_ = md.release()
		return nil, err
	}
	if err := md.scan(); err != nil {
		_ = md.release()
		return nil, err
	}
	md.cleanTmpIfDue(time.Now())
	md.parkDirs() // an idle session holds no descriptor (see park.go)
	return md, nil
}

// rootPath expands the path template for user.
func (m *Maildir) rootPath(user string) (string, error) {
	tmpl := m.Path
	if tmpl == "" {
		tmpl = DefaultPath()
	}
	return caddystore.ExpandPath(tmpl, user)
}

// splitRoot returns the user's maildir as prefix and rel: prefix is the
// directory the path template names before its first {pop3.user...}
// placeholder (the administrator's, where symbolic links are followed),
// rel the rest, which comes from the user name and in which no symbolic
// link is followed.
func (m *Maildir) splitRoot(user string) (prefix, rel string, err error) {
	root, err := m.rootPath(user)
	if err != nil {
		return "", "", err
	}
	tmpl := m.Path
	if tmpl == "" {
		tmpl = DefaultPath()
	}
	static := ""
	if i := strings.Index(tmpl, "{pop3.user"); i >= 0 {
		static = tmpl[:strings.LastIndexAny(tmpl[:i], `/`+string(filepath.Separator))+1]
	} else {
		static = filepath.Dir(tmpl)
	}
	if static == "" {
		static = "."
	}
	if prefix, err = caddystore.ExpandPath(static, user); err != nil {
		return "", "", err
	}
	prefix = filepath.Clean(prefix)
	rel, err = filepath.Rel(prefix, filepath.Clean(root))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("maildir path %s is not under %s: %w", root, prefix, storage.ErrInvalidUser)
	}
	return prefix, rel, nil
}

// openRoot opens the user's maildir, creating it (and the directories
// leading to it under the template's prefix) when it is missing.
func (m *Maildir) openRoot(user string) (*dir, error) {
	d, _, _, err := m.openRootAt(user)
	return d, err
}

// openRootAt is openRoot that also returns the maildir's path as openTree
// takes it.
func (m *Maildir) openRootAt(user string) (d *dir, prefix, rel string, err error) {
	if prefix, rel, err = m.splitRoot(user); err != nil {
		return nil, "", "", err
	}
	if d, err = openTree(prefix, rel, true); err != nil {
		return nil, "", "", fmt.Errorf("opening maildir: %w", err)
	}
	return d, prefix, rel, nil
}

// makeMaildir creates the maildir root with its cur/, new/ and tmp/, as
// far as they do not exist (for tests and tools; a login or a delivery
// creates what it needs itself).
func makeMaildir(root string) error {
	for _, sub := range []string{dirCur, dirNew, dirTmp} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o700); err != nil {
			return fmt.Errorf("creating maildir %s: %w", root, err)
		}
	}
	return nil
}

// log returns the module's logger, or one that discards everything when
// the module was not provisioned (tests, tools).
func (m *Maildir) log() *zap.Logger {
	if m.logger == nil {
		return zap.NewNop()
	}
	return m.logger
}

// Deliver stores msg in the user's maildir, following the maildir delivery
// protocol (see deliver.go).
func (m *Maildir) Deliver(ctx context.Context, user string, _ storage.Envelope, msg io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rootDir, err := m.openRoot(user)
	if err != nil {
		return err
	}
	defer rootDir.close()
	return deliver(ctx, rootDir, msg)
}

// Interface guards.
var (
	_ caddy.Provisioner     = (*Maildir)(nil)
	_ caddyfile.Unmarshaler = (*Maildir)(nil)
	_ storage.Store         = (*Maildir)(nil)
	_ storage.Deliverer     = (*Maildir)(nil)
)
