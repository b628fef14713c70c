package maildir

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// deliver stores msg in the maildir root by the maildir delivery
// protocol: write it under a unique name in tmp/, sync it to disk, then
// link it into new/ as <name>,S=<bytes>,W=<wire size> (never replacing a
// file) and sync new/. The message is stored as given. No lock is needed:
// a session sees the message at its next login. tmp/, new/ and cur/ are
// opened (or created) relative to root, refusing symbolic links, so a
// delivery never writes outside the maildir.
func deliver(ctx context.Context, root *dir, msg io.Reader) error {
	return deliverAs(ctx, root, "", time.Time{}, msg)
}

// deliverAs is deliver with a chosen base name for the message (the
// tmp/ name when base is empty) and, unless received is zero, that time
// as the file's modification time (the received time of maildir
// software).
func deliverAs(ctx context.Context, root *dir, base string, received time.Time, msg io.Reader) (err error) {
	var tmp, newDir *dir
	defer func() { tmp.close(); newDir.close() }()
	for _, sub := range []struct {
		name string
		d    **dir
	}{{dirTmp, &tmp}, {dirNew, &newDir}, {dirCur, nil}} {
		d, err := root.sub(sub.name, true)
		if err != nil {
			return fmt.Errorf("delivering to maildir %s: %w", root.path, err)
		}
		if sub.d == nil {
			d.close()
		} else {
			*sub.d = d
		}
	}

	name := uniqueName()
	f, err := tmp.create(name)
	if err != nil {
		return fmt.Errorf("delivering to maildir %s: %w", root.path, err)
	}
	tmpPath := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = tmp.unlink(name)
		}
	}()

	var sizer storage.WireSizer
	n, err := io.Copy(f, io.TeeReader(msg, &sizer))
	if err != nil {
		return fmt.Errorf("delivering to maildir %s: writing %s: %w", root.path, tmpPath, err)
	}
	if !received.IsZero() {
		if err = setMtime(f, received); err != nil {
			return fmt.Errorf("delivering to maildir %s: setting the received time of %s: %w", root.path, tmpPath, err)
		}
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("delivering to maildir %s: syncing %s: %w", root.path, tmpPath, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("delivering to maildir %s: closing %s: %w", root.path, tmpPath, err)
	}
	if err = ctx.Err(); err != nil {
		return err
	}

	if base == "" {
		base = name
	}
	final := base + ",S=" + strconv.FormatInt(n, 10) + ",W=" + strconv.FormatInt(sizer.Size(), 10)
	if err = moveNoReplace(tmp, name, newDir, final); err != nil {
		return fmt.Errorf("delivering to maildir %s: %w", root.path, err)
	}
	if err := newDir.sync(); err != nil {
		return fmt.Errorf("delivering to maildir %s: %w", root.path, err)
	}
	return nil
}

// deliveries makes delivery names unique and increasing in this process.
var deliveries struct {
	sync.Mutex
	last  int64 // microseconds since the epoch of the last name
	count uint64
}

// uniqueName returns a new maildir base name,
// <seconds>.M<microseconds>P<pid>Q<counter>.<host>: unique because the
// process id and counter are, and increasing within the process (the
// microseconds move forward by one when the clock did not) so that
// messages delivered one after the other are listed in that order.
func uniqueName() string {
	deliveries.Lock()
	now := time.Now().UnixMicro()
	if now <= deliveries.last {
		now = deliveries.last + 1
	}
	deliveries.last = now
	deliveries.count++
	q := deliveries.count
	deliveries.Unlock()
	return fmt.Sprintf("%d.M%dP%dQ%d.%s", now/1e6, now%1e6, os.Getpid(), q, hostname())
}

// hostname is the host part of delivery names: the host name with '/',
// ':', ',' and anything outside 0x21-0x7E written as \ooo (octal), as
// other maildir software does, so it cannot break the name's syntax.
var hostname = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return sanitizeHost(h)
})

// sanitizeHost escapes the bytes of h that may not appear in the host part
// of a maildir name.
func sanitizeHost(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c == '/' || c == ':' || c == ',' || c == '\\' || c < 0x21 || c > 0x7e {
			fmt.Fprintf(&b, `\%03o`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
