package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// file is where one message of the snapshot is stored.
type file struct {
	dir  string // dirCur or dirNew
	name string
	base string
}

// scan fills md with the snapshot of the maildir: it sizes the messages
// whose name does not say their size (or takes the size an earlier scan
// found for the same name), sorts them oldest first and gives them UIDLs.
// Messages stay where they are: those in new/ are served from new/, as
// Dovecot's POP3 server does, so a login renames nothing.
// When cur/ and new/ have not changed since an earlier scan, it takes that
// scan's result from the listing cache (see listcache.go); when only new/
// has, it reads new/ alone and extends that result (see extend).
func (md *maildrop) scan() error {
	now := time.Now()
	st, err := md.readStamps()
	stamped := err == nil && !md.noCache
	format := md.uidlFormat().source
	if md.reuseXUIDL {
		format += "\x00reuse_xuidl"
	}
	var prev *listing
	if stamped {
		done, p, err := md.fromCache(now, format, st)
		if done || err != nil {
			return err
		}
		prev = p
	}
	res, err := md.list(prev)
	if err != nil {
		return err
	}
	if !stamped {
		return nil
	}
	fullListings.Add(1)
	after := st
	if res.removed {
		if after, err = md.readStamps(); err != nil {
			listings.drop(md.root)
			return nil
		}
		// dovecot-uidlist is not ours: the stamp it had before it was
		// read, so that a change since shows. The check of names
		// (digest.go) does not cover it, so it must have settled.
		after.uidlist = st.uidlist
	}
	var l *listing
	if !res.incomplete && !after.future(time.Now()) && st.uidlist.settledBy(now) {
		l = newListing(md.files, md.msgs)
	}
	if l == nil {
		listings.drop(md.root)
		return nil
	}
	// Our own removals: the stamps after them, unverified (digest.go).
	l.root, l.format = md.root, format
	l.stamps, l.verified = after, !res.removed && st.settledBy(now)
	l.orphans, l.orphansKnown = res.orphans, true
	if res.removed {
		ownChangeListings.Add(1)
	}
	if !md.readOnly {
		md.writeIndex(l)
	}
	listings.put(md.root, format, l)
	md.listing = l
	return nil
}

// readStamps stamps cur/, new/ and dovecot-uidlist.
func (md *maildrop) readStamps() (stamps, error) {
	var st stamps
	var err error
	if st.cur, err = stampDir(filepath.Join(md.root, dirCur)); err != nil {
		return st, err
	}
	if st.new, err = stampDir(filepath.Join(md.root, dirNew)); err != nil {
		return st, err
	}
	st.uidlist, err = stampFile(filepath.Join(md.root, DovecotUIDListName))
	return st, err
}

// fromCache fills md from the cached listing of the maildir (or its index
// file) when it is still the maildir's, or when only new/ changed since
// (extend). It reports false when the maildir must be listed, with the
// listing it found, if any, of the same uidl_format but older: the sizes
// it knows spare the listing reading those messages again.
func (md *maildrop) fromCache(now time.Time, format string, st stamps) (bool, *listing, error) {
	l := listings.get(md.root, format)
	fromIndex := false
	if l == nil || l.cur != st.cur || l.uidlist != st.uidlist {
		// The first login after a restart: the index file, if current.
		if il := md.readIndex(format); il != nil && (l == nil || il.cur == st.cur && il.uidlist == st.uidlist) {
			l, fromIndex = il, true
		}
	}
	if l == nil || l.cur != st.cur || l.uidlist != st.uidlist {
		return false, l, nil
	}
	if l.new != st.new {
		if md.readOnly || !l.knowsUIDList() || md.reuseXUIDL {
			return false, l, nil // see extend
		}
		if !l.verified && !md.namesMatch(l, false) {
			return false, l, nil
		}
		done, err := md.extend(now, format, l, st)
		return done, l, err
	}
	cache := fromIndex
	if !l.verified {
		if !md.namesMatch(l, true) {
			return false, l, nil
		}
		verifiedListings.Add(1)
		if st.settledBy(now) {
			l, cache = l.with(st, true), true
		}
	}
	if fromIndex {
		indexHits.Add(1)
	} else {
		listings.hits.Add(1)
	}
	if cache {
		listings.put(md.root, format, l)
	}
	md.files, md.msgs = l.expand()
	md.listing = l
	return true, l, nil
}

// namesMatch reports whether the names in cur/ (and, withNew, in new/)
// are exactly those of the listing l: then l is what the directories
// hold, as if they had just been listed.
func (md *maildrop) namesMatch(l *listing, withNew bool) bool {
	g, err := md.cur.digestNames()
	if err != nil || g != l.curNames {
		return false
	}
	if !withNew {
		return true
	}
	g, err = md.new.digestNames()
	return err == nil && g == l.newNames
}

// listResult says what a listing did besides listing.
type listResult struct {
	// removed: the listing removed files (second names of a message).
	removed bool
	// incomplete: it left a message out (unreadable, gone while it was
	// listed) or ignored an unreadable dovecot-uidlist, so its result is
	// not worth caching.
	incomplete bool
	// orphans are the UIDLs dovecot-uidlist gives, by base, to messages
	// not listed; nil when there is no dovecot-uidlist.
	orphans map[string]string
}

// list reads cur/ and new/ and fills md (see scan).
func (md *maildrop) list(prev *listing) (res listResult, err error) {
	curNames, err := md.cur.names()
	if err != nil {
		return res, err
	}
	newNames, err := md.new.names()
	if err != nil {
		return res, err
	}
	type entry struct {
		file
		size int64
	}
	entries := make([]entry, 0, len(curNames)+len(newNames))
	known := prev.sizesByName(newNames, curNames)
	sizes := md.sizeAhead(newNames, curNames, known)
	defer sizes.stop()
	add := func(dir, name string) {
		base, fields, _ := splitName(name)
		size, ok := wireSizeField(fields)
		if !ok {
			size, ok = known[name]
		}
		if !ok {
			var err error
			size, err = sizes.next(dir, name)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, storage.ErrGone) {
				res.incomplete = true
				return // moved or removed by another program since the listing
			}
			if err != nil {
				md.logger.Warn("skipping unreadable message", zap.String("file", filepath.Join(md.root, dir, name)), zap.Error(err))
				res.incomplete = true
				return
			}
		}
		entries = append(entries, entry{file: file{dir: dir, name: name, base: base}, size: size})
	}
	for _, name := range newNames {
		add(dirNew, name)
	}
	for _, name := range curNames {
		add(dirCur, name)
	}

	slices.SortFunc(entries, func(a, b entry) int { return compareFiles(a.file, b.file) })
	// Two names of one file (hard links left by an interrupted move of an
	// earlier version or of another program, or a second name in new/ of
	// a file in cur/) are one message: keep one name, the one in cur/ if
	// there is one (it has the flags), and remove the others.
	kept := entries[:0]
	for _, e := range entries {
		n := len(kept)
		if n == 0 || kept[n-1].base != e.base || !sameFile(md.dirOf(kept[n-1].dir), kept[n-1].name, md.dirOf(e.dir), e.name) {
			kept = append(kept, e)
			continue
		}
		drop := e
		if kept[n-1].dir == dirNew && e.dir == dirCur {
			drop, kept[n-1] = kept[n-1], e
		}
		if md.readOnly {
			continue
		}
		res.removed = true
		if err := md.dirOf(drop.dir).unlink(drop.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			md.logger.Warn("removing duplicate name of a message", zap.String("file", md.path(drop.file)), zap.Error(err))
		}
	}
	entries = kept
	md.files = make([]file, len(entries))
	md.msgs = make([]storage.Message, len(entries))
	used := make(map[string]bool, len(entries))
	// Messages Dovecot listed keep the UIDL it showed, when it is a valid
	// one no other message has; they are given theirs first, so that a
	// later message's base name cannot take it.
	derived := make([]string, len(entries))
	ul, err := readUIDList(md.dir)
	if err != nil {
		md.logger.Warn("ignoring unreadable "+DovecotUIDListName+"; messages get base-name UIDLs", zap.String("maildir", md.root), zap.Error(err))
		res.incomplete = true // not cached, so the next login tries again
	}
	if ul != nil {
		listedBase := make(map[string]bool, len(entries))
		for i, e := range entries {
			listedBase[e.base] = true
			rec, ok := ul.byBase[e.base]
			if !ok {
				continue
			}
			if uid := md.uidlFormat().uidl(ul.validity, rec); validUID(uid) && !used[uid] {
				used[uid] = true
				derived[i] = uid
			}
		}
		// The messages dovecot-uidlist names that are not here: one
		// delivered later with such a base gets its UIDL (see extend).
		res.orphans = map[string]string{}
		for base, rec := range ul.byBase {
			if !listedBase[base] {
				res.orphans[base] = md.uidlFormat().uidl(ul.validity, rec)
			}
		}
	}
	// reuse_xuidl: then a message's X-UIDL header, as Dovecot's
	// pop3_reuse_xuidl, for messages dovecot-uidlist did not name.
	if md.reuseXUIDL {
		for i, e := range entries {
			if derived[i] != "" {
				continue
			}
			if uid := md.xUIDLOf(e.file); uid != "" && !used[uid] {
				used[uid] = true
				derived[i] = uid
			}
		}
	}
	for i, e := range entries {
		md.files[i] = e.file
		uid := derived[i]
		if uid == "" {
			uid = uniqueUID(e.base, used)
		}
		md.msgs[i] = storage.Message{UID: uid, Size: e.size}
	}
	return res, nil
}

// uidlFormat returns the maildrop's uidl_format, the default when it has
// none (a migration's source).
func (md *maildrop) uidlFormat() *uidlFormat {
	if md.format == nil {
		return defaultUIDLFormat
	}
	return md.format
}

// uniqueUID returns the UIDL for a message with the given base, made
// unique among those in used (and added to it). The base (or its hash)
// is the UIDL unless another message of the snapshot already has it; then
// a hash of the base and a counter, which is stable as long as the
// messages that share the base stay in the same order.
func uniqueUID(base string, used map[string]bool) string {
	uid := uidFor(base)
	for n := 1; used[uid]; n++ {
		uid = hashUID(fmt.Sprintf("%s\x00%d", base, n))
	}
	used[uid] = true
	return uid
}

// wireSizeOf returns the size of the message file name of d as the POP3
// handler sends it (see storage.WireSizer), using buf to read.
func wireSizeOf(d *dir, name string, buf []byte) (int64, error) {
	sizeReads.Add(1)
	f, err := d.openMessage(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var w storage.WireSizer
	// Most messages are smaller than buf: asked for one byte more than
	// the size fstat gave at open, a read that returns exactly that size
	// has reached the end, and the read that would return 0 is saved.
	if sz := f.statSize(); sz >= 0 && sz < int64(len(buf)) {
		n, err := f.Read(buf[:sz+1])
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("reading %s: %w", filepath.Join(d.path, name), err)
		}
		_, _ = w.Write(buf[:n])
		if int64(n) == sz {
			return w.Size(), nil
		}
		if n == 0 {
			return w.Size(), nil // shrank to nothing since: EOF
		}
	}
	if _, err := io.CopyBuffer(&w, onlyReader{f}, buf); err != nil {
		return 0, fmt.Errorf("reading %s: %w", filepath.Join(d.path, name), err)
	}
	return w.Size(), nil
}

// onlyReader hides every method of a reader but Read, so that
// io.CopyBuffer uses the buffer it is given.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
