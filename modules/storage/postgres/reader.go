package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// chunkSize is the size of a content row: a message is stored as rows of
// this many bytes (the last one shorter), read and written one at a time.
const chunkSize = 256 << 10

// errVanished is returned when a message was removed while it was read
// (or before, by another node's session): it wraps storage.ErrGone, so the
// client is told the message is gone rather than invited to retry.
var errVanished = fmt.Errorf("postgres: the message was removed while it was being read: %w", storage.ErrGone)

// errClosed is returned by Read after Close.
var errClosed = errors.New("postgres: read after close")

// chunk is one fetched content row, or the error that ended the fetching.
type chunk struct {
	data []byte
	err  error
}

// chunkReader reads a message's content one chunk row at a time, each
// fetch its own statement bounded by the timeout, so no connection is
// held between reads. A goroutine fetches the next chunk while the
// current one is being sent (read-ahead of one): at most two chunk
// buffers per reader, reused for the whole message.
type chunkReader struct {
	cur    []byte     // the chunk being read
	buf    []byte     // cur's whole buffer, handed back when cur is used up
	chunks chan chunk // from the fetcher
	free   chan []byte
	cancel context.CancelFunc
	done   chan struct{} // closed when the fetcher has returned
	left   int64         // bytes of the message not yet received
	err    error
}

// newChunkReader starts fetching message id, octets bytes long, and waits
// for the first chunk, so that a message that is gone is an error of
// Open rather than of the first Read.
func newChunkReader(ctx context.Context, p *Postgres, id, octets int64) (*chunkReader, error) {
	r := &chunkReader{chunks: make(chan chunk, 1), free: make(chan []byte, 2), done: make(chan struct{}), left: octets}
	if octets == 0 {
		close(r.done)
		r.err = io.EOF
		return r, nil
	}
	if octets <= chunkSize {
		// One chunk: fetched here, no read-ahead needed.
		close(r.done)
		data, err := fetchChunk(ctx, p, id, 0, make([]byte, 0, octets), octets)
		if err != nil {
			return nil, err
		}
		r.left, r.cur = 0, data
		return r, nil
	}
	ctx, r.cancel = context.WithCancel(ctx)
	size := int(min(octets, chunkSize))
	r.free <- make([]byte, 0, size)
	if octets > chunkSize {
		r.free <- make([]byte, 0, size)
	}
	go r.fetchAll(ctx, p, id, octets)
	if err := r.next(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// fetchAll is the fetcher goroutine: it fetches chunk after chunk into
// the free buffers until the message is read, an error happens, or the
// reader is closed.
func (r *chunkReader) fetchAll(ctx context.Context, p *Postgres, id, left int64) {
	defer close(r.done)
	for seq := int32(0); left > 0; seq++ {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-ctx.Done():
			return
		}
		data, err := fetchChunk(ctx, p, id, seq, buf[:0], left)
		if err == nil {
			left -= int64(len(data))
		}
		select {
		case r.chunks <- chunk{data: data, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// fetchChunk appends chunk seq of message id to buf.
func fetchChunk(ctx context.Context, p *Postgres, id int64, seq int32, buf []byte, left int64) ([]byte, error) {
	ctx, cancel := p.opCtx(ctx)
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT data FROM pop3_chunks WHERE message_id = $1 AND seq = $2`, id, seq)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading a message: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("postgres: reading a message: %w", err)
		}
		return nil, errVanished
	}
	var data pgtype.DriverBytes // valid until the next Next: copied below
	if err := rows.Scan(&data); err != nil {
		return nil, fmt.Errorf("postgres: reading a message: %w", err)
	}
	if int64(len(data)) > left || len(data) == 0 {
		return nil, fmt.Errorf("postgres: message %d: chunk %d has %d bytes, %d were left to read: the content is damaged", id, seq, len(data), left)
	}
	buf = append(buf, data...)
	rows.Close()
	return buf, rows.Err()
}

// next makes the next fetched chunk current, handing the used buffer back
// to the fetcher.
func (r *chunkReader) next() error {
	if r.buf != nil {
		r.free <- r.buf // never blocks: there are at most two buffers
		r.buf = nil
	}
	if r.left == 0 {
		return io.EOF
	}
	c := <-r.chunks // the fetcher sends until left is 0 or an error
	if c.err != nil {
		return c.err
	}
	r.left -= int64(len(c.data))
	r.cur, r.buf = c.data, c.data
	return nil
}

// Read implements io.Reader.
func (r *chunkReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(r.cur) == 0 {
		if err := r.next(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close stops the fetcher and waits for it.
func (r *chunkReader) Close() error {
	if r.cancel != nil {
		r.cancel()
	}
	<-r.done
	r.cur, r.buf, r.err = nil, nil, errClosed
	return nil
}
