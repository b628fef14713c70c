package maildir

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// A login lists cur/ and new/, parses every name and sorts the messages.
// When neither directory has changed since the last login, the result is
// the same, so it is kept in a process-wide cache and checked with one
// stat(2) per directory instead. Every change to a maildir's set of
// messages (a delivery moving a file into new/, a move into cur/, a
// rename by an IMAP server, a removal) changes the directory's
// modification and change times, so a listing is reused only while both
// stamps are exactly what they were when it was made.
//
// Directory times have the kernel's clock-tick granularity: a change in
// the same tick as the listing could leave the stamp as it was. A listing
// is therefore cached only when both directories were last changed well
// before it was made (trustAfter); then any later change carries a later
// time.
const (
	// trustAfter is how long a directory must have been unchanged for a
	// listing of it to be cached.
	trustAfter = 2 * time.Second
	// maxCachedWeight bounds the cache: a listing weighs one plus its
	// messages (about 150 bytes each), so the cache holds at most that
	// many maildirs and about 20 MB of listings.
	maxCachedWeight = 1 << 17
	// maxCachedListing is the largest listing cached, so that one huge
	// maildir does not push out all the others.
	maxCachedListing = maxCachedWeight / 4
)

// dirStamp identifies the state of a directory's entries.
type dirStamp struct {
	dev, ino     uint64
	mtime, ctime int64 // nanoseconds since the epoch
	size         int64
}

// settledBy reports whether the directory was last changed at least
// trustAfter before now.
func (s dirStamp) settledBy(now time.Time) bool {
	limit := now.Add(-trustAfter).UnixNano()
	return s.mtime < limit && s.ctime < limit
}

// listing is the snapshot of one maildir as a scan made it.
type listing struct {
	format   string // the uidl_format the UIDLs were made with
	cur, new dirStamp
	uidlist  dirStamp // of dovecot-uidlist; zero when there is none
	files    []file
	msgs     []storage.Message
}

// listingCache holds the listings of recently opened maildirs, by root.
type listingCache struct {
	mu     sync.Mutex
	byRoot map[string]*listing
	weight int          // at most maxCachedWeight
	hits   atomic.Int64 // logins served from the cache
}

// weight is what a listing counts for in the cache.
func (l *listing) weight() int { return 1 + len(l.msgs) }

// listings is the cache shared by every maildir store of the process: a
// maildir is the same directory whichever config opened it.
var listings = &listingCache{byRoot: map[string]*listing{}}

// get returns a copy of the listing of root if it was made with the
// given uidl_format and the stamps (of cur/, new/ and dovecot-uidlist)
// still match.
func (c *listingCache) get(root, format string, cur, new, uidlist dirStamp) (files []file, msgs []storage.Message, ok bool) {
	c.mu.Lock()
	l := c.byRoot[root]
	c.mu.Unlock()
	if l == nil || l.format != format || l.cur != cur || l.new != new || l.uidlist != uidlist {
		return nil, nil, false
	}
	c.hits.Add(1)
	// A session may rewrite its files (a message renamed under it), so
	// it gets copies; the cached listing itself is never changed.
	return append([]file(nil), l.files...), append([]storage.Message(nil), l.msgs...), true
}

// put caches a listing of root, evicting others to stay within
// maxCachedWeight.
func (c *listingCache) put(root string, l *listing) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(root)
	if l.weight() > maxCachedListing {
		return
	}
	for other := range c.byRoot {
		if c.weight+l.weight() <= maxCachedWeight {
			break
		}
		// Map order is random: this evicts arbitrary listings, which
		// costs the next login of those maildirs one full listing.
		c.dropLocked(other)
	}
	c.byRoot[root] = l
	c.weight += l.weight()
}

// dropLocked forgets the listing of root; c.mu is held.
func (c *listingCache) dropLocked(root string) {
	if old := c.byRoot[root]; old != nil {
		c.weight -= old.weight()
		delete(c.byRoot, root)
	}
}
