//go:build unix

package mbox

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Deliver appends msg to the user's spool, as an MTA would: it takes the
// spool's locks (waiting up to the lock timeout, then failing with
// ErrLockTimeout), writes a From_ line ("From <sender> <date>", the sender
// from env.Sender or MAILER-DAEMON, the date env.Received or now in asctime
// format, UTC), the
// marker line (see marker.go), the message with mboxrd quoting, a line
// ending if the message lacks a final one and an empty line, then syncs
// the spool. When a session of this process holds the spool, the message
// is appended under that session's lock and is in the next session's
// snapshot. A missing spool is created with mode 0600.
func (m *Mbox) Deliver(ctx context.Context, user string, env storage.Envelope, msg io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := m.spoolPath(user); err != nil {
		return err
	}
	data, err := io.ReadAll(msg)
	if err != nil {
		return fmt.Errorf("mbox: reading the message: %w", err)
	}
	path, err := m.prepare(user)
	if err != nil {
		return err
	}
	uid, err := newUID(time.Now())
	if err != nil {
		return err
	}
	key, err := spoolKey(path)
	if err != nil {
		m.logOnce("key:"+path, "cannot read or create the spool's key: delivering without a marker line (messages get content-hash UIDLs)",
			zap.String("spool", path), zap.Error(err))
	}
	received := env.Received
	if received.IsZero() {
		received = time.Now()
	}
	rec := buildRecord(fromLineSender(env.Sender), received, uid, data, key)
	return m.appendToSpool(ctx, path, rec)
}

// appendToSpool appends the record rec to the spool at path under its
// locks (waiting up to the lock timeout), or under the locks of this
// process's session that holds the spool.
func (m *Mbox) appendToSpool(ctx context.Context, path string, rec []byte) error {
	e := spools.acquire(path)
	defer spools.release(path, e)
	deadline := time.Now().Add(m.lockTimeout())
	for {
		done, err := m.tryDeliver(path, e, rec)
		if done {
			if err != nil {
				return fmt.Errorf("mbox %s: delivering: %w", path, err)
			}
			return nil
		}
		if !pause(ctx, deadline) {
			if err := ctx.Err(); err != nil {
				return err
			}
			return fmt.Errorf("%w: %s stayed locked for %s", ErrLockTimeout, path, m.lockTimeout())
		}
	}
}

// tryDeliver makes one attempt to append rec to the spool at path. It
// returns done=false when the spool is locked by another process.
func (m *Mbox) tryDeliver(path string, e *spoolEntry, rec []byte) (done bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.session != nil {
		// A session of this process holds the locks: append under them.
		f, err := openSpool(path, true)
		if err != nil {
			return true, err
		}
		err = appendRecord(path, f, rec)
		return true, errors.Join(err, f.Close())
	}
	lk, noDotlock, err := lockSpool(path, true)
	m.warnNoDotlock(path, noDotlock)
	if errors.Is(err, errBusy) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	if err := repairAppend(path, lk.f, 0); err != nil {
		_ = lk.release()
		return true, fmt.Errorf("removing the partial message of a delivery that did not complete: %w", err)
	}
	err = appendRecord(path, lk.f, rec)
	if rerr := lk.release(); rerr != nil {
		// The message is in the spool: report the lock trouble
		// without failing the delivery (which would be retried and
		// delivered twice).
		m.log().Error("releasing the mailbox locks after a delivery", zap.String("spool", path), zap.Error(rerr))
	}
	return true, err
}

// buildRecord returns what Deliver appends for msg: the From_ line, the
// marker line (authenticated with the spool's key; none without a key),
// msg with mboxrd quoting, a line ending if msg has content without a
// final one, and the empty line that ends the message.
func buildRecord(sender string, t time.Time, uid string, msg, key []byte) []byte {
	quoted := quotedLen(msg)
	rec := make([]byte, 0, int(quoted)+256)
	rec = append(rec, "From "...)
	rec = append(rec, sender...)
	rec = append(rec, ' ')
	rec = t.UTC().AppendFormat(rec, time.ANSIC)
	if len(key) > 0 {
		rec = append(rec, '\n')
		rec = append(rec, formatMarker(key, rec[:len(rec)-1], uid, quoted)...)
	} else {
		rec = append(rec, '\n')
	}
	rec = quoteAppend(rec, msg)
	if len(msg) > 0 && msg[len(msg)-1] != '\n' {
		rec = append(rec, '\n')
	}
	return append(rec, '\n')
}

// uidEncoding writes the random part of a delivered message's UIDL.
var uidEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newUID returns a fresh UIDL for a message delivered at t: the time in
// hex seconds, a dot and 96 random bits (about 30 characters).
func newUID(t time.Time) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("mbox: making a UIDL: %w", err)
	}
	return strconv.FormatInt(t.Unix(), 16) + "." + uidEncoding.EncodeToString(b[:]), nil
}
