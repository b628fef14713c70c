package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgtype"
)

// chunkSize is the size of a content row: a message is stored as rows of
// this many bytes (the last one shorter), read and written one at a time.
const chunkSize = 256 << 10

// fetchChunks is how many chunks a RETR fetches per statement: one, so
// that a session reading a message holds one chunk in memory. (Two or
// four per statement were not measurably faster here.)
const fetchChunks = 1

// errVanished is returned when a message was removed while it was read.
var errVanished = errors.New("postgres: the message was removed while it was being read")

// chunkReader reads a message's content one chunk row at a time, each
// fetch its own statement bounded by the timeout: no connection is held
// between reads, and only one chunk is in memory.
type chunkReader struct {
	store *Postgres
	ctx   context.Context
	id    int64
	seq   int32
	left  int64  // bytes of the content not yet fetched
	buf   []byte // the fetched content not yet read (in own)
	own   []byte // the reader's buffer, reused by every fetch
	err   error
}

// fetch loads the next chunks into buf: up to fetchChunks of them in one
// statement, copied into a buffer the reader keeps.
func (r *chunkReader) fetch() error {
	if r.left == 0 {
		return nil
	}
	ctx, cancel := r.store.opCtx(r.ctx)
	defer cancel()
	rows, err := r.store.pool.Query(ctx, `SELECT data FROM pop3_chunks WHERE message_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq`, r.id, r.seq, r.seq+fetchChunks)
	if err != nil {
		return fmt.Errorf("postgres: reading a message: %w", err)
	}
	defer rows.Close()
	if r.own == nil {
		r.own = make([]byte, 0, min(r.left, fetchChunks*chunkSize))
	}
	r.own = r.own[:0]
	got := 0
	for rows.Next() {
		var data pgtype.DriverBytes
		if err := rows.Scan(&data); err != nil {
			return fmt.Errorf("postgres: reading a message: %w", err)
		}
		if int64(len(data)) > r.left || len(data) == 0 {
			return fmt.Errorf("postgres: message %d: chunk %d has %d bytes, %d were left to read: the content is damaged", r.id, r.seq, len(data), r.left)
		}
		r.own = append(r.own, data...)
		r.seq++
		r.left -= int64(len(data))
		got++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: reading a message: %w", err)
	}
	if got == 0 {
		return errVanished
	}
	r.buf = r.own
	return nil
}

// Read implements io.Reader.
func (r *chunkReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(r.buf) == 0 {
		if r.left == 0 {
			return 0, io.EOF
		}
		if err := r.fetch(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Close implements io.Closer.
func (r *chunkReader) Close() error {
	r.buf, r.own = nil, nil
	r.err = errors.New("postgres: read after close")
	return nil
}
