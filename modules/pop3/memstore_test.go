package pop3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// memStore is an in-memory storage.Store for session tests: each user has
// a list of messages; Open locks and snapshots; Commit deletes.
type memStore struct {
	mu      sync.Mutex
	boxes   map[string][][]byte
	locked  map[string]bool
	failDel bool  // Commit fails (to test the [SYS/TEMP] path)
	lostErr error // when set, Commit deletes nothing and returns it (a lost lock)
	openErr error // when set, opening a message fails with it
	commits int
}

func newMemStore() *memStore {
	return &memStore{boxes: map[string][][]byte{}, locked: map[string]bool{}}
}

func (m *memStore) add(user string, msgs ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range msgs {
		m.boxes[user] = append(m.boxes[user], []byte(s))
	}
}

func (m *memStore) count(user string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.boxes[user])
}

func (m *memStore) Open(_ context.Context, user string) (storage.Maildrop, error) {
	if err := storage.ValidateUser(user); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked[user] {
		return nil, storage.ErrInUse
	}
	m.locked[user] = true
	snap := append([][]byte(nil), m.boxes[user]...)
	msgs := make([]storage.Message, len(snap))
	for i, b := range snap {
		sum := sha256.Sum256(b)
		msgs[i] = storage.Message{UID: hex.EncodeToString(sum[:8]) + "-" + string(rune('a'+i%26)), Size: crlfSize(b)}
	}
	return &memDrop{s: m, user: user, snap: snap, msgs: msgs}, nil
}

// crlfSize is the size of b with every line ending as CRLF and a final line
// ending added, computed independently of writeMessage.
func crlfSize(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	n := int64(len(b))
	n += int64(bytes.Count(b, []byte{'\n'}) - bytes.Count(b, []byte("\r\n")))
	if b[len(b)-1] != '\n' {
		n += 2
	}
	return n
}

type memDrop struct {
	s    *memStore
	user string
	snap [][]byte
	msgs []storage.Message
	done bool
}

func (d *memDrop) Messages() []storage.Message { return d.msgs }

func (d *memDrop) Open(i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(d.snap) {
		return nil, storage.ErrNoSuchMessage
	}
	d.s.mu.Lock()
	err := d.s.openErr
	d.s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(d.snap[i])), nil
}

func (d *memDrop) Commit(deleted []int) error {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	defer d.unlockLocked()
	d.s.commits++
	if d.s.failDel {
		return io.ErrUnexpectedEOF
	}
	if d.s.lostErr != nil {
		return d.s.lostErr
	}
	gone := map[string]bool{}
	for _, i := range deleted {
		gone[string(d.snap[i])] = true
	}
	var keep [][]byte
	for _, b := range d.s.boxes[d.user] {
		if !gone[string(b)] {
			keep = append(keep, b)
		}
	}
	d.s.boxes[d.user] = keep
	return nil
}

func (d *memDrop) Close() error {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	d.unlockLocked()
	return nil
}

func (d *memDrop) unlockLocked() {
	if !d.done {
		d.done = true
		delete(d.s.locked, d.user)
	}
}

// memAuth accepts users whose password matches the map.
type memAuth map[string]string

func (a memAuth) Authenticate(_ context.Context, user, password string) (bool, error) {
	pw, ok := a[user]
	return ok && pw == password, nil
}
