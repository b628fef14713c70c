package postgres

import (
	"fmt"
	"io"
)

// Small messages are fetched ahead, several per statement, since clients
// retrieve messages in order right after logging in: the statement that
// takes the lease at login also returns the content of the first small
// messages (up to loginPrefetchBytes), and opening a small message that
// was not fetched ahead fetches it and the small ones that follow it (up
// to prefetchBytes). A session keeps at most that much content it has not
// been asked for yet, and drops it when the client skips it. Content the
// node's content cache holds is neither fetched ahead nor fetched (see
// contentcache.go).
const (
	smallMessage       = 64 << 10  // a message at most this long is small
	loginPrefetchBytes = 128 << 10 // content fetched with the listing, at most
	prefetchBytes      = 256 << 10 // content fetched by one statement, at most
	prefetchCount      = 64        // messages fetched by one statement, at most
)

// keep holds data, the content of message i, fetched ahead. What is held
// is a window of consecutive message numbers from aheadFirst on, which the
// caller sets while the window is empty; i is at least aheadFirst.
func (md *maildrop) keep(i int, data []byte) {
	for md.aheadFirst+len(md.ahead) <= i {
		md.ahead = append(md.ahead, nil)
	}
	md.ahead[i-md.aheadFirst] = data
}

// fetched returns and forgets the content of message i if it was fetched
// ahead.
func (md *maildrop) fetched(i int) ([]byte, bool) {
	j := i - md.aheadFirst
	if j < 0 || j >= len(md.ahead) || md.ahead[j] == nil {
		return nil, false
	}
	data := md.ahead[j]
	md.ahead[j] = nil
	if j == len(md.ahead)-1 {
		md.ahead = md.ahead[:0] // all used or skipped: start afresh
	}
	return data, true
}

// openSmall returns a reader of small message i, from what was fetched
// before or by fetching it with the small messages after it.
func (md *maildrop) openSmall(i int) (io.ReadCloser, error) {
	md.mu.Lock()
	data, ok := md.fetched(i)
	md.mu.Unlock()
	if !ok {
		// (the content cache's messages are not in the window: finding
		// one there is no skip)
		data, ok = md.cached(i)
	}
	if ok {
		return md.newSmallReader(data), nil
	}
	md.mu.Lock()
	clear(md.ahead) // the client skipped them: not worth keeping
	md.ahead, md.aheadFirst = md.ahead[:0], i
	md.mu.Unlock()
	// Message i and the small ones after it that the content cache does
	// not hold.
	var ids []int64
	total := int64(0)
	for j := i; j < len(md.entries) && len(ids) < prefetchCount; j++ {
		e := &md.entries[j]
		if e.octets == 0 || e.octets > smallMessage || (j > i && total+e.octets > prefetchBytes) {
			if j == i {
				continue
			}
			break
		}
		if j > i && e.hashed && md.store.cache != nil && md.store.cache.has(&e.digest) {
			continue
		}
		ids = append(ids, e.id)
		total += e.octets
	}
	ctx, cancel := md.store.opCtx(md.ctx)
	defer cancel()
	rows, err := md.store.pool.Query(ctx, `SELECT message_id, data FROM pop3_chunks WHERE message_id = ANY($1) AND seq = 0`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading a message: %w", err)
	}
	defer rows.Close()
	var id int64
	content := arenaScan{md: md}
	dest := []any{&id, &content}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("postgres: reading a message: %w", err)
		}
		// ids are those of messages from i on: find id's number.
		j := -1
		for k := i; k < len(md.entries); k++ {
			if md.entries[k].id == id {
				j = k
				break
			}
		}
		if j < 0 || content.data == nil {
			continue
		}
		md.store.shipped.Add(1)
		if int64(len(content.data)) != md.entries[j].octets {
			return nil, fmt.Errorf("postgres: message %d has %d bytes, %d were stored: the content is damaged", id, len(content.data), md.entries[j].octets)
		}
		cached := md.cache(j, content.data)
		md.mu.Lock()
		md.rehint = md.rehint || cached
		md.keep(j, content.data)
		md.mu.Unlock()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: reading a message: %w", err)
	}
	md.mu.Lock()
	data, ok = md.fetched(i)
	md.mu.Unlock()
	if !ok {
		return nil, errVanished
	}
	return md.newSmallReader(data), nil
}
