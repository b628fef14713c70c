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
// is therefore trusted (verified) only when both directories were last
// changed well before it was made: trustAfter, or fineTrustAfter when the
// stamps have sub-second parts (the file system keeps nanoseconds, so its
// granularity is the kernel's tick, at most 10 ms); then any later change
// carries a later time. A listing made from a directory changed more
// recently, or from this session's own changes (see digest.go), is cached
// unverified: the next login checks it against the names in the
// directories before using it.
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
	// fineTrustAfter is trustAfter for a directory whose times have a
	// sub-second part: ten times the coarsest kernel tick (HZ=100).
	fineTrustAfter = 100 * time.Millisecond
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
// trustAfter before now (fineTrustAfter when its times have nanoseconds:
// a file system with one- or two-second times has none). The zero stamp
// (no dovecot-uidlist) is settled.
func (s dirStamp) settledBy(now time.Time) bool {
	window := trustAfter
	if s.mtime%int64(time.Second) != 0 && s.ctime%int64(time.Second) != 0 {
		window = fineTrustAfter
	}
	limit := now.Add(-window).UnixNano()
	return s.mtime < limit && s.ctime < limit
}

// future reports whether the directory's times are later than now (a
// clock stepped back since): its listing is not cached at all.
func (s dirStamp) future(now time.Time) bool {
	return s.mtime > now.UnixNano() || s.ctime > now.UnixNano()
}

// stamps are the stamps of a maildir's cur/, new/ and dovecot-uidlist.
type stamps struct {
	cur, new, uidlist dirStamp
}

// future reports whether one of the three is later than now.
func (s stamps) future(now time.Time) bool {
	return s.cur.future(now) || s.new.future(now) || s.uidlist.future(now)
}

// settledBy reports whether all three are settled by now.
func (s stamps) settledBy(now time.Time) bool {
	return s.cur.settledBy(now) && s.new.settledBy(now) && s.uidlist.settledBy(now)
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
	root   string
	format string // the uidl_format the UIDLs were made with
	stamps        // uidlist is zero when there is none
	// verified says that the stamps prove the listing: it was read, or
	// checked against the directories' names, after they had settled.
	// An unverified listing is checked (digest.go) before it is used.
	verified bool
	// digests of the names in cur/ and new/, for that check.
	curNames, newNames nameDigest
	// inNew counts the entries in new/.
	inNew int
	// orphans are the UIDLs that dovecot-uidlist (as stamped) gives to
	// messages not listed, by base; orphansKnown says they are known
	// (a listing from the index file does not keep them).
	orphans      map[string]string
	orphansKnown bool
	arena        string
	entries      []cachedEntry
	// index is what the maildir's index file held when it was last
	// written or read as this listing (see indexjournal.go).
	index indexState
	elem  *list.Element // in listingCache.lru
}

// knowsUIDList reports whether l has what extend needs to give a new
// message the UIDL dovecot-uidlist names for it: there is no
// dovecot-uidlist, or the UIDLs it gives to messages not listed.
func (l *listing) knowsUIDList() bool {
	return l.uidlist == (dirStamp{}) || l.orphansKnown
}

// with returns a copy of l (sharing its entries, which are never
// changed) with other stamps and verified flag, not in any cache.
func (l *listing) with(st stamps, verified bool) *listing {
	c := *l
	c.stamps, c.verified, c.elem = st, verified, nil
	return &c
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
	if int64(n) > math.MaxUint32 || len(files) != len(msgs) {
		return nil
	}
	var arena strings.Builder
	arena.Grow(n)
	l := new(listing)
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
		if e.inNew {
			l.newNames.add(f.name)
			l.inNew++
		} else {
			l.curNames.add(f.name)
		}
		e.uidOff = e.off
		if uid != f.base {
			e.uidOff = uint32(arena.Len())
			arena.WriteString(uid)
		}
		entries[i] = e
	}
	l.arena, l.entries = arena.String(), entries
	return l
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

// sizesByName returns the sizes l knows of the messages whose names do
// not say their size, by name, when some of these names (a listing's
// new/ and cur/) are such: a name is one file, whose content a maildir
// never changes, so a listing need not read it again. It returns nil when
// l is nil or none of the names needs it.
func (l *listing) sizesByName(names ...[]string) map[string]int64 {
	if l == nil {
		return nil
	}
	need := false
	for _, ns := range names {
		for _, n := range ns {
			if _, fields, _ := splitName(n); !hasWireSize(fields) {
				need = true
				break
			}
		}
	}
	if !need {
		return nil
	}
	sizes := make(map[string]int64)
	for _, e := range l.entries {
		name := l.arena[e.off : e.off+uint32(e.nameLen)]
		if _, fields, _ := splitName(name); !hasWireSize(fields) {
			sizes[name] = e.size
		}
	}
	return sizes
}

// cost is what the listing counts for against the budget, in bytes: its
// memory as allocated.
func (l *listing) cost() int64 {
	orphans := 0
	for base, uid := range l.orphans {
		orphans += 48 + len(base) + len(uid)
	}
	return listingOverhead + int64(len(l.root)+len(l.format)+len(l.arena)+orphans) +
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
	hits   atomic.Int64 // logins served from the cache as it was
}

// Counters of how logins got their listing, for tests and benchmarks.
var (
	// fullListings counts listings made by reading cur/ and new/ whole.
	fullListings atomic.Int64
	// sizeReads counts messages read to find their size.
	sizeReads atomic.Int64
	// incrementalListings counts listings made from a cached one by
	// reading new/ only.
	incrementalListings atomic.Int64
	// verifiedListings counts unverified listings checked against the
	// directories' names and found right.
	verifiedListings atomic.Int64
	// ownChangeListings counts listings cached after this process's own
	// changes (moves at login, deletions at Commit) with the stamps the
	// directories had after them.
	ownChangeListings atomic.Int64
)

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

// get returns the listing of root if it was made with the given
// uidl_format, whatever its stamps; the caller compares them. The
// listing is never changed: a session expands it into its own slices.
func (c *listingCache) get(root, format string) *listing {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.byRoot[root]
	if l == nil || l.format != format {
		return nil
	}
	c.lru.MoveToFront(l.elem)
	return l
}

// drop forgets the listing of root.
func (c *listingCache) drop(root string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(root)
}

// put caches the listing l (made by newListing, its stamps set) of root,
// made with format, evicting the least recently used others to stay
// within the budget. A listing larger than the whole budget is not
// cached; a nil one drops what was cached.
func (c *listingCache) put(root, format string, l *listing) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(root)
	if l == nil {
		return
	}
	l.root, l.format = root, format
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
