package postgres

import (
	"bytes"
	"fmt"
	"io"
)

// Small messages are fetched several at a time: opening one fetches it
// and the small ones that follow it in the snapshot, in one statement,
// since clients retrieve messages in order. A session keeps at most
// prefetchBytes of content it has not been asked for yet.
const (
	smallMessage  = 64 << 10  // a message at most this long is small
	prefetchBytes = 256 << 10 // content fetched by one statement, at most
	prefetchCount = 64        // messages fetched by one statement, at most
)

// openSmall returns a reader of small message i, from what was fetched
// before or by fetching it with the small messages after it.
func (md *maildrop) openSmall(i int) (io.ReadCloser, error) {
	if data, ok := md.prefetched[i]; ok {
		delete(md.prefetched, i)
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	clear(md.prefetched) // the client skipped them: not worth keeping
	var ids []int64
	byID := map[int64]int{}
	total := int64(0)
	for j := i; j < len(md.entries) && len(ids) < prefetchCount; j++ {
		e := md.entries[j]
		if e.octets == 0 || e.octets > smallMessage || (j > i && total+e.octets > prefetchBytes) {
			if j == i {
				continue
			}
			break
		}
		ids = append(ids, e.id)
		byID[e.id] = j
		total += e.octets
	}
	ctx, cancel := md.store.opCtx(md.ctx)
	defer cancel()
	rows, err := md.store.pool.Query(ctx, `SELECT message_id, data FROM pop3_chunks WHERE message_id = ANY($1) AND seq = 0`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading a message: %w", err)
	}
	defer rows.Close()
	if md.prefetched == nil {
		md.prefetched = map[int][]byte{}
	}
	for rows.Next() {
		var id int64
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("postgres: reading a message: %w", err)
		}
		j := byID[id]
		if int64(len(data)) != md.entries[j].octets {
			return nil, fmt.Errorf("postgres: message %d has %d bytes, %d were stored: the content is damaged", id, len(data), md.entries[j].octets)
		}
		md.prefetched[j] = data
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: reading a message: %w", err)
	}
	data, ok := md.prefetched[i]
	if !ok {
		return nil, errVanished
	}
	delete(md.prefetched, i)
	return io.NopCloser(bytes.NewReader(data)), nil
}
