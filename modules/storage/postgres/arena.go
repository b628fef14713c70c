package postgres

import (
	"io"
	"sync"
)

// The content of small messages fetched ahead (see prefetch.go) is copied
// out of pgx's read buffer into one buffer per session, the arena, taken
// from a pool and given back when the session has ended and every reader
// of it is closed: a session of 20 × 4 KiB messages then allocates no
// content buffer at all, where one allocation per message made a third
// of the node's garbage. Content that does not fit the arena is copied
// into a buffer of its own.

// arenaSize is the capacity of an arena: what the login fetches ahead.
const arenaSize = loginPrefetchBytes

// arenas holds the arenas of ended sessions.
var arenas = sync.Pool{New: func() any {
	b := make([]byte, 0, arenaSize)
	return &b
}}

// arenaScan is a pgx scan target (pgtype.BytesScanner) that copies a
// bytea value into the session's arena; data is nil for SQL NULL.
type arenaScan struct {
	md   *maildrop
	data []byte
}

// ScanBytes copies v, which pgx reuses after the call.
func (a *arenaScan) ScanBytes(v []byte) error {
	if v == nil {
		a.data = nil
		return nil
	}
	a.data = a.md.copyContent(v)
	return nil
}

// copyContent returns a copy of v, in the arena when it fits. The copy's
// capacity ends where it does, so nothing appended later can reach it.
func (md *maildrop) copyContent(v []byte) []byte {
	md.mu.Lock()
	defer md.mu.Unlock()
	if md.arena == nil && !md.done {
		md.arena = arenas.Get().(*[]byte)
		*md.arena = (*md.arena)[:0]
	}
	if md.arena == nil || len(*md.arena)+len(v) > cap(*md.arena) {
		return append(make([]byte, 0, len(v)), v...)
	}
	start := len(*md.arena)
	*md.arena = append(*md.arena, v...)
	return (*md.arena)[start:len(*md.arena):len(*md.arena)]
}

// releaseArena gives the arena back once the session has ended and no
// reader of it is open; md.mu is held. What was fetched ahead and not
// read is dropped with it, so that nothing of this session can be served
// from a buffer that another session reuses.
func (md *maildrop) releaseArena() {
	if !md.done || md.readers > 0 || md.arena == nil {
		return
	}
	clear(md.ahead)
	md.ahead = md.ahead[:0]
	arenas.Put(md.arena)
	md.arena = nil
}

// discard ends a maildrop that is not handed out (its take failed or
// found the lease held): its arena, if any, goes back to the pool.
func (md *maildrop) discard() {
	md.mu.Lock()
	defer md.mu.Unlock()
	md.done = true
	md.releaseArena()
}

// smallReader reads a small message's content held in memory (in the
// arena or not); Close lets the arena go back to the pool when it was the
// last reader of an ended session. Reading after Close is an error, never
// content that may by then belong to another session.
type smallReader struct {
	md     *maildrop
	data   []byte
	closed bool
}

// newSmallReader returns a reader of data and counts it as open.
func (md *maildrop) newSmallReader(data []byte) *smallReader {
	md.mu.Lock()
	md.readers++
	md.mu.Unlock()
	return &smallReader{md: md, data: data}
}

// Read implements io.Reader.
func (r *smallReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errClosed
	}
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// WriteTo implements io.WriterTo, so that io.Copy writes the content
// without a buffer of its own.
func (r *smallReader) WriteTo(w io.Writer) (int64, error) {
	if r.closed {
		return 0, errClosed
	}
	n, err := w.Write(r.data)
	r.data = r.data[n:]
	return int64(n), err
}

// Close implements io.Closer; a second call does nothing.
func (r *smallReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.data = nil
	md := r.md
	md.mu.Lock()
	defer md.mu.Unlock()
	md.readers--
	md.releaseArena()
	return nil
}
