package postgres

import (
	"crypto/sha256"
	"slices"
	"sync"
)

// The content cache keeps the content of small messages this node has
// served, by the SHA-256 of the content, so that a client that retrieves
// the same messages again (one that leaves its mail on the server and
// loses its state, a help-desk poller, a load test) is served from memory
// instead of from the database: the node's equivalent of the page cache
// that serves a maildir's files.
//
// It is safe across nodes and users because it is addressed by content:
// a message row's digest (pop3_messages.digest, written with the content
// at delivery) names the exact bytes, whoever's message it is, and is
// checked against the content before the content is kept (a row whose
// digest does not match its content is served from the database and
// never kept). Content is never changed in place, only deleted with its
// row; content kept for a deleted message is served only to a session
// whose own listing has a row with that digest, that is, the same bytes.
// Rows without a digest (delivered by an older version) are not kept.
//
// So that the database does not ship what the node holds, the take at
// login is given a hint: the ids of the user's messages whose content the
// node held at the user's previous login (see hintOf). A wrong hint costs
// a round trip (the message is fetched when it is retrieved), never a
// wrong answer: what is served is looked up by digest.

// DefaultContentCacheSize is the content cache's memory budget when
// content_cache_size is not set.
const DefaultContentCacheSize = 64 << 20

// ContentCacheOff is the content_cache_size that turns the cache off.
const ContentCacheOff = -1

// entryOverhead is what an entry costs besides its content (the map's
// key and slice header, rounded up), counted against the budget so that
// many tiny messages cannot hold more memory than it says.
const entryOverhead = 96

// maxHintUsers bounds the users whose hint is kept (two generations of
// this many).
const maxHintUsers = 1 << 14

// digest is the SHA-256 of a message's content.
type digest = [sha256.Size]byte

// contentCache is the process's cache of small messages' content by
// digest. Its budget is split in two generations: entries go into the
// current one, and when it is full it becomes the old one (the previous
// old one is dropped); an entry found in the old generation moves to the
// current one. That keeps what is used and costs no list per entry.
type contentCache struct {
	mu              sync.Mutex
	budget          int64 // bytes of content, both generations; 0 keeps nothing
	cur, old        map[digest][]byte
	curBytes        int64
	hints, oldHints map[string][]int64 // hints by user, two generations
}

// contents is the process-wide content cache; the postgres store
// provisioned last sets its budget (see setBudget).
var contents = newContentCache(DefaultContentCacheSize)

// newContentCache returns an empty cache of budget bytes.
func newContentCache(budget int64) *contentCache {
	return &contentCache{budget: budget, cur: map[digest][]byte{}, old: map[digest][]byte{},
		hints: map[string][]int64{}, oldHints: map[string][]int64{}}
}

// setBudget changes the budget; a smaller one drops everything held.
func (c *contentCache) setBudget(budget int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if budget < c.budget {
		clear(c.cur)
		clear(c.old)
		c.curBytes = 0
	}
	c.budget = budget
}

// get returns the content of digest d if it is held. The slice is shared:
// it must not be changed.
func (c *contentCache) get(d *digest) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if data, ok := c.cur[*d]; ok {
		return data, true
	}
	data, ok := c.old[*d]
	if ok {
		delete(c.old, *d)
		c.insert(d, data)
	}
	return data, ok
}

// has reports whether the content of digest d is held, without moving it.
func (c *contentCache) has(d *digest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holdsLocked(d)
}

// holdsLocked is has with c.mu held.
func (c *contentCache) holdsLocked(d *digest) bool {
	_, ok := c.cur[*d]
	if !ok {
		_, ok = c.old[*d]
	}
	return ok
}

// put keeps a copy of data under digest d if data is small, its SHA-256
// is d and it fits the budget; it returns the copy, or nil when nothing
// was kept.
func (c *contentCache) put(d *digest, data []byte) []byte {
	if len(data) == 0 || len(data) > smallMessage || sha256.Sum256(data) != *d {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(data))+entryOverhead > c.budget/2 {
		return nil
	}
	if held, ok := c.cur[*d]; ok {
		return held
	}
	if held, ok := c.old[*d]; ok {
		delete(c.old, *d)
		c.insert(d, held)
		return held
	}
	kept := append(make([]byte, 0, len(data)), data...)
	c.insert(d, kept)
	return kept
}

// insert puts data in the current generation, turning it into the old
// one first when data would not fit; c.mu is held.
func (c *contentCache) insert(d *digest, data []byte) {
	cost := int64(len(data)) + entryOverhead
	if c.curBytes+cost > c.budget/2 {
		c.old, c.cur = c.cur, c.old
		clear(c.cur)
		c.curBytes = 0
	}
	c.cur[*d] = data
	c.curBytes += cost
}

// hintOf returns the ids of user's messages whose content the node held
// after the user's last login (never nil; shared, not to be changed).
func (c *contentCache) hintOf(user string) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ids, ok := c.hints[user]; ok {
		return ids
	}
	if ids, ok := c.oldHints[user]; ok {
		c.setHintLocked(user, ids)
		return ids
	}
	return []int64{}
}

// setHint records a copy of ids as user's hint, unless it is the one
// held already.
func (c *contentCache) setHint(user string, ids []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if held, ok := c.hints[user]; ok && slices.Equal(held, ids) {
		return
	}
	c.setHintLocked(user, slices.Clone(ids))
}

// setHintLocked records user's hint in the current generation; c.mu is
// held.
func (c *contentCache) setHintLocked(user string, ids []int64) {
	if len(c.hints) >= maxHintUsers {
		c.oldHints, c.hints = c.hints, c.oldHints
		clear(c.hints)
	}
	c.hints[user] = ids
	delete(c.oldHints, user)
}

// digestScan is a pgx scan target (pgtype.BytesScanner) for a digest
// column: ok is false for SQL NULL or a value that is not a SHA-256.
type digestScan struct {
	d  digest
	ok bool
}

// ScanBytes copies v, which pgx reuses after the call.
func (s *digestScan) ScanBytes(v []byte) error {
	s.ok = len(v) == len(s.d)
	if s.ok {
		copy(s.d[:], v)
	}
	return nil
}

// cached returns the content of message i from the content cache, if
// the store uses one and holds it.
func (md *maildrop) cached(i int) ([]byte, bool) {
	e := &md.entries[i]
	if md.store.cache == nil || !e.hashed {
		return nil, false
	}
	data, ok := md.store.cache.get(&e.digest)
	if !ok || int64(len(data)) != e.octets {
		return nil, false
	}
	return data, true
}

// cache keeps data, the content of message i as read from the database,
// in the content cache if the store uses one; it reports whether it was
// kept (see contentCache.put for what is not).
func (md *maildrop) cache(i int, data []byte) bool {
	e := &md.entries[i]
	return md.store.cache != nil && e.hashed && md.store.cache.put(&e.digest, data) != nil
}

// hintOfSession returns, in buf's array, the ids of the messages of a
// listing in the login's window (see loginWindow) whose content the cache
// holds: the hint for the user's next login. The listing is walked
// without the lock, which is held only for the lookups.
func (c *contentCache) hintOfSession(entries []entry, buf []int64) []int64 {
	var in [prefetchCount]int
	k := 0
	var win loginWindow
	for i := 0; i < len(entries) && !win.done(); i++ {
		if win.next(entries[i].octets) && entries[i].hashed {
			in[k] = i
			k++
		}
	}
	ids := buf[:0]
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, i := range in[:k] {
		if c.holdsLocked(&entries[i].digest) {
			ids = append(ids, entries[i].id)
		}
	}
	return ids
}

// loginWindow follows a listing in id order as the login statement's
// window does (see takeSQL): the first small messages, as many as fit
// loginPrefetchBytes and prefetchCount, are the ones whose content the
// login fetches ahead.
type loginWindow struct {
	n, bytes int64 // small messages seen, and their length
}

// next takes the next message of the listing, octets long, and reports
// whether it is in the window.
func (w *loginWindow) next(octets int64) bool {
	if octets < 1 || octets > smallMessage {
		return false
	}
	w.n++
	w.bytes += octets
	return w.n <= prefetchCount && w.bytes <= loginPrefetchBytes
}

// done reports whether no later message can be in the window.
func (w *loginWindow) done() bool {
	return w.n >= prefetchCount || w.bytes > loginPrefetchBytes
}

// updateHint records, as the hint for the user's next login, which of
// the first small messages the cache holds now; it runs after the take
// and, if content was cached since, when the session ends.
func (md *maildrop) updateHint() {
	if md.store.cache == nil {
		return
	}
	var buf [prefetchCount]int64
	md.store.cache.setHint(md.user, md.store.cache.hintOfSession(md.entries, buf[:]))
}
