package maildir

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// deliver stores msg in the maildir at root by the maildir delivery
// protocol: write it under a unique name in tmp/, sync it to disk, then
// link it into new/ as <name>,S=<bytes>,W=<wire size> (never replacing a
// file) and sync new/. The message is stored as given. No lock is needed:
// a session sees the message at its next login.
func deliver(ctx context.Context, root string, msg io.Reader) (err error) {
	name := uniqueName()
	tmpPath := filepath.Join(root, dirTmp, name)
	f, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("delivering to maildir %s: %w", root, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmpPath)
		}
	}()

	var sizer storage.WireSizer
	n, err := io.Copy(f, io.TeeReader(msg, &sizer))
	if err != nil {
		return fmt.Errorf("delivering to maildir %s: writing %s: %w", root, tmpPath, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("delivering to maildir %s: syncing %s: %w", root, tmpPath, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("delivering to maildir %s: closing %s: %w", root, tmpPath, err)
	}
	if err = ctx.Err(); err != nil {
		return err
	}

	final := name + ",S=" + strconv.FormatInt(n, 10) + ",W=" + strconv.FormatInt(sizer.Size(), 10)
	newDir := filepath.Join(root, dirNew)
	if err = moveNoReplace(tmpPath, filepath.Join(newDir, final)); err != nil {
		return fmt.Errorf("delivering to maildir %s: %w", root, err)
	}
	if err := syncDir(newDir); err != nil {
		return fmt.Errorf("delivering to maildir %s: syncing %s: %w", root, newDir, err)
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
