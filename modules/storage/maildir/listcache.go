package maildir

import (
	"container/list"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
//
// The cache is bounded by memory, not by a count of messages: a listing
// costs what its compact form takes (an entry of 24 bytes per message
// plus its name, about 80 bytes for a typical name), and the least
// recently used maildirs are evicted to keep the total within the budget
// (listing_cache_size, DefaultListingCacheSize unless set).
const (
	// trustAfter is how long a directory must have been unchanged for a
	// listing of it to be cached.
	trustAfter = 2 * time.Second
	// DefaultListingCacheSize is the memory budget of the listing cache
	// in bytes when listing_cache_size is not set: 64 MiB, about 800,000
	// messages over all maildirs.
	DefaultListingCacheSize = 64 << 20
	// listingOverhead is what a listing costs besides its entries and
	// arena: the listing itself, its list element and map entry.
	listingOverhead = 256
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

// cachedEntry is one message of a cached listing: where its name and
// UIDL are in the listing's arena, and its size.
type cachedEntry struct {
	size    int64
	off     uint32 // of the name in the arena
	uidOff  uint32 // of the UIDL in the arena (often the name's base)
	nameLen uint16
	baseLen uint16 // the base is the name's first baseLen bytes
	uidLen  uint8  // a UIDL has at most 70 characters
	inNew   bool   // in new/ (a read-only maildrop), else in cur/
}

// listing is the snapshot of one maildir as a scan made it, in a compact
// form: one string holds every name and UIDL, so a listing costs two
// allocations whatever its length.
type listing struct {
	root     string
	format   string // the uidl_format the UIDLs were made with
	cur, new dirStamp
	uidlist  dirStamp // of dovecot-uidlist; zero when there is none
	arena    string
	entries  []cachedEntry
	elem     *list.Element // in listingCache.lru
}

// newListing makes the compact form of a scan's files and messages. It
// returns nil when they do not fit it (a name longer than 65535 bytes,
// more than 4 GiB of names), which are then not cached.
func newListing(files []file, msgs []storage.Message) *listing {
	n := 0
	for i, f := range files {
		n += len(f.name)
		if msgs[i].UID != f.base {
			n += len(msgs[i].UID)
		}
	}
	if n > math.MaxUint32 || len(files) != len(msgs) {
		return nil
	}
	var arena strings.Builder
	arena.Grow(n)
	entries := make([]cachedEntry, len(files))
	for i, f := range files {
		uid := msgs[i].UID
		if len(f.name) > math.MaxUint16 || len(uid) > math.MaxUint8 || !strings.HasPrefix(f.name, f.base) ||
			(f.dir != dirCur && f.dir != dirNew) {
			return nil
		}
		e := cachedEntry{
			size: msgs[i].Size, off: uint32(arena.Len()),
			nameLen: uint16(len(f.name)), baseLen: uint16(len(f.base)),
			uidLen: uint8(len(uid)), inNew: f.dir == dirNew,
		}
		arena.WriteString(f.name)
		e.uidOff = e.off
		if uid != f.base {
			e.uidOff = uint32(arena.Len())
			arena.WriteString(uid)
		}
		entries[i] = e
	}
	return &listing{arena: arena.String(), entries: entries}
}

// expand returns the files and messages of the listing: new slices (a
// session may rewrite its files) whose strings share the arena.
func (l *listing) expand() ([]file, []storage.Message) {
	files := make([]file, len(l.entries))
	msgs := make([]storage.Message, len(l.entries))
	for i, e := range l.entries {
		name := l.arena[e.off : e.off+uint32(e.nameLen)]
		dir := dirCur
		if e.inNew {
			dir = dirNew
		}
		files[i] = file{dir: dir, name: name, base: name[:e.baseLen]}
		msgs[i] = storage.Message{UID: l.arena[e.uidOff : e.uidOff+uint32(e.uidLen)], Size: e.size}
	}
	return files, msgs
}

// cost is what the listing counts for against the budget, in bytes: its
// memory as allocated.
func (l *listing) cost() int64 {
	return listingOverhead + int64(len(l.root)+len(l.format)+len(l.arena)) +
		int64(cap(l.entries))*int64(unsafe.Sizeof(cachedEntry{}))
}

// listingCache holds the listings of recently opened maildirs, by root,
// within a memory budget, evicting the least recently used.
type listingCache struct {
	mu     sync.Mutex
	byRoot map[string]*listing
	lru    list.List    // of *listing, most recently used first
	used   int64        // bytes, at most budget
	budget int64        // bytes; 0 caches nothing
	hits   atomic.Int64 // logins served from the cache
}

// newListingCache returns an empty cache with the given budget in bytes.
func newListingCache(budget int64) *listingCache {
	return &listingCache{byRoot: map[string]*listing{}, budget: budget}
}

// listings is the cache shared by every maildir store of the process: a
// maildir is the same directory whichever config opened it.
var listings = newListingCache(DefaultListingCacheSize)

// setBudget changes the budget, evicting listings to fit it.
func (c *listingCache) setBudget(budget int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.budget = max(budget, 0)
	c.evictLocked(0)
}

// get returns the files and messages of the listing of root if it was
// made with the given uidl_format and the stamps (of cur/, new/ and
// dovecot-uidlist) still match.
func (c *listingCache) get(root, format string, cur, new, uidlist dirStamp) (files []file, msgs []storage.Message, ok bool) {
	c.mu.Lock()
	l := c.byRoot[root]
	if l != nil {
		c.lru.MoveToFront(l.elem)
	}
	c.mu.Unlock()
	if l == nil || l.format != format || l.cur != cur || l.new != new || l.uidlist != uidlist {
		return nil, nil, false
	}
	c.hits.Add(1)
	// The cached listing itself is never changed.
	files, msgs = l.expand()
	return files, msgs, true
}

// put caches the listing l of root (made by newListing), evicting the
// least recently used others to stay within the budget. A listing larger
// than the whole budget is not cached.
func (c *listingCache) put(root, format string, cur, new, uidlist dirStamp, l *listing) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(root)
	if l == nil {
		return
	}
	l.root, l.format, l.cur, l.new, l.uidlist = root, format, cur, new, uidlist
	cost := l.cost()
	if cost > c.budget {
		return
	}
	c.evictLocked(cost)
	l.elem = c.lru.PushFront(l)
	c.byRoot[root] = l
	c.used += cost
}

// evictLocked drops least recently used listings until room more bytes
// fit within the budget; c.mu is held.
func (c *listingCache) evictLocked(room int64) {
	for c.used+room > c.budget {
		back := c.lru.Back()
		if back == nil {
			return
		}
		c.dropLocked(back.Value.(*listing).root)
	}
}

// dropLocked forgets the listing of root; c.mu is held.
func (c *listingCache) dropLocked(root string) {
	if old := c.byRoot[root]; old != nil {
		c.used -= old.cost()
		c.lru.Remove(old.elem)
		delete(c.byRoot, root)
	}
}
