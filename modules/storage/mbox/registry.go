package mbox

import "sync"

// spools keeps, for every spool this process is using, what its sessions
// and deliveries must share. The locks MTAs honour cannot tell two parts
// of this process apart the way a session needs (a delivery in this
// process must get in while one of its sessions holds the spool), so the
// process also keeps track itself.
var spools = &registry{entries: make(map[string]*spoolEntry)}

// registry maps spool paths (absolute, clean) to their entries.
type registry struct {
	mu      sync.Mutex
	entries map[string]*spoolEntry
}

// spoolEntry is this process's state for one spool.
type spoolEntry struct {
	// mu is held while this process takes the spool's locks, writes to
	// the spool or rewrites it: it serializes this process's deliveries,
	// session openings and commits.
	mu sync.Mutex

	// session is the open session that holds the spool's locks, nil if
	// none. Guarded by mu.
	session *maildrop

	users int // holders of the entry; guarded by registry.mu
}

// acquire returns the entry of path, creating it if needed. The caller
// calls release when it no longer needs it.
func (r *registry) acquire(path string) *spoolEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[path]
	if e == nil {
		e = &spoolEntry{}
		r.entries[path] = e
	}
	e.users++
	return e
}

// release gives back an entry that acquire returned.
func (r *registry) release(path string, e *spoolEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.users--
	if e.users == 0 && r.entries[path] == e {
		delete(r.entries, path)
	}
}
