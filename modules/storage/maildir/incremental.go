package maildir

import (
	"errors"
	"hash/maphash"
	"io/fs"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// extend fills md from the listing l, whose cur/ is still the maildir's
// (same stamp, and verified or its names checked), and the names now in
// new/: only new/ is read. The messages l has in new/ must all still be
// there (otherwise a message went away behind our back and the maildir is
// listed); the others in new/ arrived since: they are sized and merged
// into l's messages in order, and l's messages keep their UIDLs. Nothing
// is moved. The result is cached with the stamps read before new/ was,
// and appended to the index file.
//
// A listing is extended only when that gives exactly what listing the
// whole maildir would: l knows what the unchanged dovecot-uidlist says
// of messages not listed (their UIDLs, so that a message it names gets
// the UIDL Dovecot showed), there is no reuse_xuidl (which reads the
// messages' headers), and no message that arrived shares a base or a UIDL
// with another message (a second name of a listed file, or a collision
// that the full listing resolves in its order). Otherwise it reports
// false and the maildir is listed.
func (md *maildrop) extend(now time.Time, format string, l *listing, st stamps) (bool, error) {
	// The names l has in new/, by keyed hash (the digest's): new/ is read
	// without a string per name, and only the names not among them, the
	// arrivals, are kept. The digest of the names found among them must be
	// l's digest of new/ (same count, same sum): then every one is still
	// there, and no arrival passed for one of them by a hash collision.
	known := make(map[uint64]struct{}, l.inNew)
	for _, e := range l.entries {
		if e.inNew {
			known[maphash.String(digestSeed, l.arena[e.off:e.off+uint32(e.nameLen)])] = struct{}{}
		}
	}
	var (
		still    nameDigest
		newNames []string
	)
	err := md.new.eachName(func(name string) {
		h := maphash.String(digestSeed, name)
		if _, ok := known[h]; ok {
			still.count++
			still.sum += h
			return
		}
		newNames = append(newNames, strings.Clone(name))
	})
	if err != nil {
		return false, err
	}
	if still != l.newNames {
		return false, nil // one of l's messages left new/
	}
	files, msgs := l.expand()
	type entry struct {
		name, base, fields, uid string
	}
	entries := make([]entry, 0, len(newNames))
	bases := make(map[string]bool, len(newNames))
	uids := make(map[string]bool, len(newNames))
	for _, name := range newNames {
		base, fields, _ := splitName(name)
		uid := uidFor(base)
		if o, ok := l.orphans[base]; ok && validUID(o) {
			uid = o // named in dovecot-uidlist: the UIDL Dovecot showed
		}
		if bases[base] || uids[uid] {
			return false, nil
		}
		bases[base], uids[uid] = true, true
		entries = append(entries, entry{name, base, fields, uid})
	}
	for i := range files {
		if bases[files[i].base] || uids[msgs[i].UID] {
			return false, nil
		}
	}

	var (
		addF []file
		addM []storage.Message
		buf  []byte
	)
	for _, e := range entries {
		size, known := wireSizeField(e.fields)
		if !known {
			if buf == nil {
				buf = make([]byte, 32*1024)
			}
			size, err = wireSizeOf(md.new, e.name, buf)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, storage.ErrGone) {
				continue // gone since new/ was read: not this session's
			}
			if err != nil {
				md.logger.Warn("skipping unreadable message", zap.String("file", md.path(file{dir: dirNew, name: e.name})), zap.Error(err))
				continue
			}
		}
		addF = append(addF, file{dir: dirNew, name: e.name, base: e.base})
		addM = append(addM, storage.Message{UID: e.uid, Size: size})
	}
	md.files, md.msgs = mergeSorted(files, msgs, addF, addM)
	incrementalListings.Add(1)

	next := newListing(md.files, md.msgs)
	if next == nil || st.future(time.Now()) || len(addF) < len(entries) {
		// Something left out (it is in new/ still, or unreadable):
		// the next login lists the maildir.
		listings.drop(md.root)
		return true, nil
	}
	// Read whole after the stamps were taken: proven by them once they
	// have settled, as a full listing is.
	next.root, next.format, next.stamps = md.root, format, st
	next.verified = st.settledBy(now)
	next.orphans, next.orphansKnown = l.orphans, l.orphansKnown
	for _, e := range entries {
		if _, ok := l.orphans[e.base]; ok {
			next.orphans = make(map[string]string, len(l.orphans))
			for base, uid := range l.orphans {
				if !bases[base] {
					next.orphans[base] = uid
				}
			}
			break
		}
	}
	md.updateIndex(l, next, &journalRecord{from: l.stamps, to: st, addedFiles: addF, addedMsgs: addM})
	listings.put(md.root, format, next)
	md.listing = next
	return true, nil
}
