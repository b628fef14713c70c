package pop3cmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-pop3/caddy-pop3/internal/caddystore"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// migrateOptions are the flags of `caddy pop3 migrate`.
type migrateOptions struct {
	Config     string // the config file
	Adapter    string // its adapter ("" to guess from the name)
	Server     string // the layer4 server whose pop3 handler to use ("" for any)
	User       string // the one user to migrate
	UsersFrom  string // or a passwd-file whose users to migrate
	From       string // the source: maildir:<path> or mbox:<path>, with %u, %n, %d
	UIDLFormat string // the source server's Dovecot pop3_uidl_format ("" for the default)
}

// migrateCounts is what a migration did.
type migrateCounts struct {
	copied, skipped, conflicts, unstorable, vanished int
	bytes                                            int64
}

func (c *migrateCounts) add(o migrateCounts) {
	c.copied += o.copied
	c.skipped += o.skipped
	c.conflicts += o.conflicts
	c.unstorable += o.unstorable
	c.vanished += o.vanished
	c.bytes += o.bytes
}

func (c migrateCounts) String() string {
	return fmt.Sprintf("%d copied (%d bytes), %d already there, %d UIDL conflicts, %d UIDLs not storable, %d vanished from the source",
		c.copied, c.bytes, c.skipped, c.conflicts, c.unstorable, c.vanished)
}

// migrate copies the mail of opts.User (or of every user of
// opts.UsersFrom) from the source into the storage of the config's pop3
// handler, keeping each message's UIDL and received time. The source is
// only read. It reports to stdout, with a progress line on stderr at most
// once a second, and returns a sysexits(3) exit code.
func migrate(ctx context.Context, opts migrateOptions, stdout, stderr io.Writer) (int, error) {
	switch {
	case opts.Config == "":
		return ExitUsage, errors.New("--config is required")
	case opts.From == "":
		return ExitUsage, errors.New("--from is required (maildir:<path> or mbox:<path>)")
	case (opts.User == "") == (opts.UsersFrom == ""):
		return ExitUsage, errors.New("give exactly one of --user and --users-from")
	}
	kindName, tmpl, ok := strings.Cut(opts.From, ":")
	if !ok || (kindName != "maildir" && kindName != "mbox") || tmpl == "" {
		return ExitUsage, fmt.Errorf("--from %q: want maildir:<path> or mbox:<path>", opts.From)
	}
	kind, err := storage.LookupSource(kindName)
	if err != nil {
		return ExitUsage, fmt.Errorf("--from %q: %v", opts.From, err)
	}
	if opts.UIDLFormat != "" {
		if err := kind.CheckUIDLFormat(opts.UIDLFormat); err != nil {
			return ExitUsage, fmt.Errorf("--uidl-format %q: %v", opts.UIDLFormat, err)
		}
	}
	users := []string{opts.User}
	if opts.UsersFrom != "" {
		var err error
		if users, err = passwdUsers(opts.UsersFrom); err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return ExitNoInput, err
			}
			return ExitDataErr, err
		}
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
	imp, err := loadImporter(cctx, raw)
	if err != nil {
		return ExitConfigError, err
	}

	var total migrateCounts
	failed := 0
	code := ExitOK
	for _, user := range users {
		c, ucode, err := migrateOne(cctx, imp, kind, tmpl, opts.UIDLFormat, user, opts.UsersFrom != "", stdout, stderr)
		total.add(c)
		if err == nil {
			continue
		}
		if len(users) == 1 {
			return ucode, err
		}
		// With --users-from, the other users are still copied; the
		// exit code is the first failure's.
		fmt.Fprintf(stderr, "%v\n", err)
		failed++
		if code == ExitOK {
			code = ucode
		}
	}
	if len(users) > 1 {
		fmt.Fprintf(stdout, "total (%d users, %d failed): %s\n", len(users), failed, total)
	}
	if code != ExitOK {
		return code, fmt.Errorf("%d of %d users failed (see above); run again to copy the rest", failed, len(users))
	}
	if total.conflicts > 0 || total.unstorable > 0 {
		return ExitDataErr, errors.New("some messages were not copied: their UIDL is taken by another message or cannot be kept (see above)")
	}
	return ExitOK, nil
}

// errSource marks an error reading the source.
type errSource struct{ error }

func (e errSource) Unwrap() error { return e.error }

// migrateOne copies the mail of one user and reports it on stdout. A user
// without a source is skipped when skipMissing is set.
func migrateOne(ctx context.Context, imp storage.Importer, kind storage.SourceKind, tmpl, format, user string, skipMissing bool, stdout, stderr io.Writer) (migrateCounts, int, error) {
	path := expandUserPath(tmpl, user)
	src, err := kind.Open(ctx, path, format)
	if errors.Is(err, fs.ErrNotExist) && skipMissing {
		fmt.Fprintf(stdout, "%s: no %s at %s, nothing to copy\n", user, kind.Name, path)
		return migrateCounts{}, ExitOK, nil
	}
	if err != nil {
		code := ExitIOErr
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			code = ExitNoInput
		}
		return migrateCounts{}, code, fmt.Errorf("%s: opening the source: %w", user, err)
	}
	defer src.Close()
	c, err := migrateUser(ctx, imp, user, src, stderr)
	fmt.Fprintf(stdout, "%s: %s\n", user, c)
	var se errSource
	switch {
	case err == nil:
		return c, ExitOK, nil
	case errors.As(err, &se):
		return c, ExitIOErr, fmt.Errorf("%s: %w", user, err)
	default:
		return c, exitCode(err), fmt.Errorf("%s: %w", user, err)
	}
}

// migrateUser copies every message of src into user's maildrop.
func migrateUser(ctx context.Context, imp storage.Importer, user string, src storage.Source, stderr io.Writer) (migrateCounts, error) {
	var c migrateCounts
	msgs := src.Messages()
	last := time.Now()
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		if now := time.Now(); now.Sub(last) >= time.Second {
			fmt.Fprintf(stderr, "%s: %d/%d messages, %d copied (%d bytes)\n", user, i, len(msgs), c.copied, c.bytes)
			last = now
		}
		data, received, err := readSource(ctx, src, i)
		if errors.Is(err, storage.ErrGone) {
			c.vanished++
			continue
		}
		if err != nil {
			return c, errSource{fmt.Errorf("reading message %d (UIDL %s) of the source: %w", i+1, m.UID, err)}
		}
		env := storage.Envelope{Sender: returnPath(data), Recipient: user, Received: received}
		err = imp.Import(ctx, user, env, m.UID, bytes.NewReader(data))
		switch {
		case err == nil:
			c.copied++
			c.bytes += int64(len(data))
		case errors.Is(err, storage.ErrUIDLExists):
			c.skipped++
		case errors.Is(err, storage.ErrUIDLConflict):
			c.conflicts++
			fmt.Fprintf(stderr, "%s: message %d not copied: %v\n", user, i+1, err)
		case errors.Is(err, storage.ErrUIDLNotStorable):
			c.unstorable++
			fmt.Fprintf(stderr, "%s: message %d not copied: %v\n", user, i+1, err)
		default:
			return c, fmt.Errorf("importing message %d (UIDL %s): %w", i+1, m.UID, err)
		}
	}
	return c, nil
}

// readSource reads message i of src and its received time.
func readSource(ctx context.Context, src storage.Source, i int) ([]byte, time.Time, error) {
	r, err := src.Open(ctx, i)
	if err != nil {
		return nil, time.Time{}, err
	}
	data, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	received, err := src.Received(i)
	if err != nil {
		return nil, time.Time{}, err
	}
	return data, received, nil
}

// loadImporter provisions the storage module configured by raw and
// returns it as an Importer.
func loadImporter(ctx caddy.Context, raw []byte) (storage.Importer, error) {
	return caddystore.Load[storage.Importer](ctx, raw, "cannot import mail (keep UIDLs)")
}

// expandUserPath expands Dovecot's variables in a source path: %u the
// user name, %n its local part, %d its domain, %% a percent sign.
func expandUserPath(tmpl, user string) string {
	local, domain, _ := strings.Cut(user, "@")
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '%' || i+1 == len(tmpl) {
			b.WriteByte(tmpl[i])
			continue
		}
		i++
		switch tmpl[i] {
		case 'u':
			b.WriteString(user)
		case 'n':
			b.WriteString(local)
		case 'd':
			b.WriteString(domain)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(tmpl[i])
		}
	}
	return b.String()
}

// passwdUsers returns the user names of a passwd-file (Dovecot's format:
// user:password:uid:gid:gecos:home:shell:extra, '#' comments), in order.
func passwdUsers(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--users-from: %w", err)
	}
	defer f.Close()
	var users []string
	seen := make(map[string]bool)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, _, _ := strings.Cut(line, ":")
		if user == "" || strings.ContainsAny(user, "/%") || user == "." || user == ".." {
			return nil, fmt.Errorf("--users-from %s:%d: not a valid user name", path, n)
		}
		if !seen[user] {
			seen[user] = true
			users = append(users, user)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--users-from %s: %w", path, err)
	}
	return users, nil
}
