package passwdfile

import (
	"container/list"
	"sync"
)

// maxCachedFiles bounds how many per-domain files are kept in memory; the
// least recently used one is dropped first and read again when needed.
const maxCachedFiles = 1000

// sourceCache holds the per-domain files read so far, at most max of
// them, by path.
type sourceCache struct {
	max int
	mu  sync.Mutex
	// byPath maps a path to its element in lru, whose Value is *source.
	byPath map[string]*list.Element
	// lru has the most recently used source at the front.
	lru list.List
}

func newSourceCache(max int) *sourceCache {
	return &sourceCache{max: max, byPath: make(map[string]*list.Element)}
}

// get returns the source of path, making it with newSource (unread) when
// it is not cached, and marks it as used.
func (c *sourceCache) get(path string, newSource func(string) *source) *source {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byPath[path]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*source)
	}
	s := newSource(path)
	c.byPath[path] = c.lru.PushFront(s)
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.byPath, last.Value.(*source).path)
	}
	return s
}

// len is the number of cached sources.
func (c *sourceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
