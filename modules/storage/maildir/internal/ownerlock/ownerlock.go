// Package ownerlock is the maildir backend's lock of a maildrop: a file in
// the maildrop that names the process holding it (see Lock), and that
// holds no file descriptor while the lock is held.
package ownerlock

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/lockowner"
	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// StaleLockAge is how long a lock file written by a process that cannot be
// checked (another machine, another pid namespace) keeps the lock without
// being touched (lockowner.StaleAge). Holders touch their lock files every
// minute.
const StaleLockAge = lockowner.StaleAge

// unownedLockAge is how long a lock file whose content is neither an owner
// record nor a free one keeps the lock.
const unownedLockAge = 30 * time.Second

// lockRecordSize is the size of every record written to a lock file: an
// owner line padded with spaces, or a free record. Rewriting a record of the
// same size in place allocates and frees nothing on the file system.
const lockRecordSize = 256

// maxOwnerLine bounds a record: a longer file is not an owner lock.
const maxOwnerLine = lockowner.MaxLine

// How often, and how far apart, Acquire and Unlock try to take
// the transient flock of a lock file. Only a would-be owner, an Unlock or a
// refresher holds it, for a few system calls; so does, for a moment, a
// descriptor that was just closed while another program (lsof, ss -p, a
// monitoring agent) was looking at the process's descriptors in /proc. A
// would-be owner gives up after a millisecond or so (the lock is in use);
// Unlock, which must not leave the lock behind, after some 200.
const (
	acquireAttempts   = 5
	acquireRetryDelay = 200 * time.Microsecond
	unlockAttempts    = 200
	unlockRetryDelay  = time.Millisecond
)

// refreshInterval is how often the lock files of held locks are touched; a
// variable for the tests.
var refreshInterval = time.Minute

// Lock is an exclusive lock that holds no file descriptor while it is
// held: a session that holds a maildrop costs the process its connection
// and nothing more. The lock is a file that stays in place, whose content
// says who holds the lock. It is one record of 256 bytes: either an owner
// line padded with spaces before its final newline,
//
//	caddy-pop3 pid=<pid> start=<start> boot=<boot id> pidns=<pid ns> host=<host name> lock=<n>
//
// or, when the lock is free, 255 spaces and a newline (an empty file, or
// one of only white space, is free too). The owner line is the identity
// line of package lockowner: start is the process's start time in clock
// ticks since boot (field 22 of /proc/<pid>/stat), boot the kernel's boot
// id, pidns the process's pid namespace (readlink /proc/self/ns/pid) and n
// a number the process gives each lock it takes; "-" stands for a value
// this system cannot tell. A line without lock= is read as lock=0, which
// this process never gives.
//
// Every look at the file, and every change to it, happens under a
// transient flock(2) on a descriptor opened for the purpose and closed a
// few system calls later, so a record is never seen half written. Taking
// the lock is opening the file (creating it, mode 0600, the first time),
// flocking it, reading the record and, when the lock is free or its owner
// gone, writing this process's record in its place; releasing it is
// writing the free record over this lock's own one. Records are written in
// place with pwrite(2), always 256 bytes: the file is never removed, and
// neither taking nor releasing the lock allocates or frees anything on the
// file system (a longer file, written by something else, is cut to 256
// bytes). Taking a free lock costs five system calls: open, flock, pread,
// pwrite and close.
//
// When the record names an owner, the would-be owner decides whether it is
// still alive (for another process, by the rules of lockowner.Owner.Stale):
//
//   - this process (same pid, start time, boot id, pid namespace and host
//     name): held while its lock= number is in the process's registry of
//     held locks (another session, perhaps under an older config, perhaps
//     through another path to the same file); a number that is not there
//     is a leftover, free to take;
//   - another process on this machine (same host name, boot id and pid
//     namespace): held while a process with that pid and that start time
//     exists (a pid reused after a crash does not keep the lock);
//   - the same host name but another boot id: when the file was last
//     touched before this machine booted, it was left by a crash before a
//     reboot, and is stale at once; otherwise it may be another machine
//     that has the same name (see the next case);
//   - another machine or pid namespace, whose processes cannot be checked:
//     held until the file is StaleLockAge old. A holder touches its lock
//     files every minute, so the lock of a live one never gets that old;
//   - neither an owner line nor a free record (something else wrote the
//     file): held while younger than 30 seconds.
//
// A would-be owner that finds the flock taken tries again a few times
// within about a millisecond; when it stays taken (another would-be owner
// is deciding, or an older caddy-pop3 holds the file by flock for a whole
// session), it is told the lock is in use. Unlock waits for it longer.
//
// Owner locks work across the sessions of a process, across its config
// reloads and across processes on the same machine or, through a shared
// file system such as NFS, on several; a process that dies (even by
// SIGKILL) leaves a lock that the next owner on the same machine takes over
// at once, and one from another machine after StaleLockAge. Removing a
// lock file by hand is safe when no caddy-pop3 runs on it; while one
// serves that maildrop, it breaks the lock of the sessions in progress
// (the next login creates a new, free file). Older caddy-pop3 versions,
// which hold the file by flock without writing it, must not serve the same
// maildrops at the same time as this one: they would not see its locks.
//
// On Windows a LockFileEx lock of the whole file stands in for the
// transient flock, positioned ReadFile and WriteFile for pread and pwrite
// (see ownerlock_windows.go), and the process's creation time for its
// start time; there is no boot id or pid namespace (see
// internal/lockowner/lockowner_windows.go). On Unix systems other than
// Linux, which have no /proc, a holder is checked by its pid alone (see
// internal/lockowner/lockowner_other.go).
type Lock struct {
	path     string
	token    uint64 // the lock= number of its record
	released atomic.Bool
}

// lockTokens numbers the locks this process takes.
var lockTokens atomic.Uint64

// freeRecord is the record of a free lock.
var freeRecord = func() []byte {
	b := []byte(strings.Repeat(" ", lockRecordSize))
	b[lockRecordSize-1] = '\n'
	return b
}()

// Acquire takes the owner lock at path (a file that it creates the first
// time; see Lock) without waiting. It returns storage.ErrInUse when the
// lock is held, by this process or another one. It never follows a
// symbolic link at path.
func Acquire(path string) (*Lock, error) {
	fd, err := openLockFile(path, true)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", path, err)
	}
	defer closeFD(fd) // also drops the flock
	if err := flockRetry(fd, acquireAttempts, acquireRetryDelay); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			// Another would-be owner is deciding, or an older
			// caddy-pop3 holds the file.
			return nil, storage.ErrInUse
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	bp := recordBuffers.Get().(*recordBuffer)
	defer recordBuffers.Put(bp)
	buf := bp[:]
	n, err := preadFull(fd, buf)
	if err != nil {
		return nil, fmt.Errorf("reading lock file %s: %w", path, err)
	}
	free, err := mayTake(buf[:n], fd)
	if err != nil {
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	if !free {
		return nil, storage.ErrInUse
	}
	// Registered before its record is written: a session of this
	// process that reads the record finds the lock held, never a
	// leftover.
	l := &Lock{path: path, token: lockTokens.Add(1)}
	locks.register(l)
	if err := writeRecord(fd, appendRecord(buf[:0], l.token), n); err != nil { // what was read is no longer needed
		// What is there now is anybody's guess: make way for the
		// next owner.
		_ = writeRecord(fd, freeRecord, len(buf))
		locks.unregister(l)
		return nil, fmt.Errorf("writing lock file %s: %w", path, err)
	}
	return l, nil
}

// recordBuffer holds what Acquire and free read of a lock file, and the
// record Acquire writes. It comes from recordBuffers rather than the
// stack: Acquire runs deep in a login, and a buffer this size in its frame
// pushed logins past the 8 KiB a goroutine's stack starts with, so that
// every idle session kept a 16 KiB stack.
type recordBuffer [maxOwnerLine + 1]byte

// recordBuffers holds the recordBuffers not in use.
var recordBuffers = sync.Pool{New: func() any { return new(recordBuffer) }}

// mayTake decides whether the lock whose file fd holds content is free to
// take: free, a leftover of this process, or stale.
func mayTake(content []byte, fd lockFD) (bool, error) {
	if isFree(content) {
		return true, nil
	}
	owner, token, ok := lockowner.Parse(content)
	if ok && owner.IsSelf() {
		// Another session of this process, or a leftover of one
		// that could not free it.
		return !locks.holds(token), nil
	}
	mtime, err := modTime(fd)
	if err != nil {
		return false, err
	}
	if !ok {
		// Something else wrote the file.
		return time.Since(mtime) > unownedLockAge, nil
	}
	return owner.Stale(mtime), nil
}

// appendRecord appends to b the record of this process's lock token: its
// owner line, padded with spaces before the newline to lockRecordSize
// bytes (a line too long for that is not padded).
func appendRecord(b []byte, token uint64) []byte {
	start := len(b)
	return pad(lockowner.Self().AppendLine(b, token), start)
}

// pad pads the line b[start:], which has no newline, with spaces to
// lockRecordSize-1 bytes and appends the newline.
func pad(b []byte, start int) []byte {
	for len(b)-start < lockRecordSize-1 {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

// Unlock releases the lock: it writes the free record over the lock's own
// one. When the file no longer holds this lock's record (someone removed
// it by hand, or took the lock over after this process stopped for longer
// than StaleLockAge), it leaves the file alone. It is safe to call more
// than once, and on a nil lock.
//
// When it cannot get the transient flock in time, it returns an error and
// the record stays: this process then takes it for a leftover at its next
// login, other processes for the lock of a live process.
func (l *Lock) Unlock() error {
	if l == nil || l.released.Swap(true) {
		return nil
	}
	// Freed before it leaves the registry: a session of this process
	// that reads the record while it is still there sees it held.
	err := l.free()
	locks.unregister(l)
	return err
}

// free writes the free record over l's record, if the file still holds it.
func (l *Lock) free() error {
	fd, err := openLockFile(l.path, false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed by hand: nothing to free
		}
		return fmt.Errorf("opening lock file %s: %w", l.path, err)
	}
	defer closeFD(fd)
	if err := flockRetry(fd, unlockAttempts, unlockRetryDelay); err != nil {
		return fmt.Errorf("locking %s: %w", l.path, err)
	}
	bp := recordBuffers.Get().(*recordBuffer)
	defer recordBuffers.Put(bp)
	n, err := preadFull(fd, bp[:])
	if err != nil {
		return fmt.Errorf("reading lock file %s: %w", l.path, err)
	}
	if !l.isRecord(bp[:n]) {
		return nil
	}
	if err := writeRecord(fd, freeRecord, n); err != nil {
		return fmt.Errorf("freeing lock file %s: %w", l.path, err)
	}
	return nil
}

// isRecord reports whether content is l's own record, byte for byte as
// Acquire wrote it.
func (l *Lock) isRecord(content []byte) bool {
	var rec [lockRecordSize]byte
	return bytes.Equal(content, appendRecord(rec[:0], l.token))
}

// flockRetry takes an exclusive flock on fd, trying up to attempts times,
// delay apart, while another descriptor holds one; then it fails with
// EWOULDBLOCK.
func flockRetry(fd lockFD, attempts int, delay time.Duration) error {
	for i := 1; ; i++ {
		err := flockNB(fd)
		if !errors.Is(err, syscall.EWOULDBLOCK) || i >= attempts {
			return err
		}
		time.Sleep(delay)
	}
}

// isFree reports whether content is the record of a free lock: nothing but
// white space.
func isFree(content []byte) bool {
	if len(content) > maxOwnerLine {
		return false
	}
	for _, c := range content {
		switch c {
		case ' ', '\t', '\n', '\r', '\v', '\f':
		default:
			return false
		}
	}
	return true
}

// locks is this process's registry of held owner locks.
var locks = &lockRegistry{held: make(map[uint64]*Lock)}

// lockRegistry is a set of held owner locks, keyed by their lock= numbers;
// while it is not empty, a refresher touches their files every
// refreshInterval.
type lockRegistry struct {
	mu        sync.Mutex
	held      map[uint64]*Lock
	refresher *refresher
}

// register adds l.
func (r *lockRegistry) register(l *Lock) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held[l.token] = l
	if r.refresher == nil {
		r.refresher = startRefresher(r)
	}
}

// holds reports whether the lock numbered token is registered.
func (r *lockRegistry) holds(token uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held[token] != nil
}

// unregister removes l, if it is registered. When that empties the
// registry, it stops the refresher and waits for it to end.
func (r *lockRegistry) unregister(l *Lock) {
	r.mu.Lock()
	if r.held[l.token] == l {
		delete(r.held, l.token)
	}
	var stopped *refresher
	if len(r.held) == 0 && r.refresher != nil {
		stopped = r.refresher
		r.refresher = nil
		close(stopped.stop)
	}
	r.mu.Unlock()
	if stopped != nil {
		<-stopped.done
	}
}

// snapshot returns the registered locks.
func (r *lockRegistry) snapshot() []*Lock {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Lock, 0, len(r.held))
	for _, l := range r.held {
		out = append(out, l)
	}
	return out
}

// refresher is the goroutine that keeps the lock files of held locks
// fresh, so that other machines do not take them for stale ones.
type refresher struct {
	stop chan struct{} // closed to stop it
	done chan struct{} // closed when it has ended
}

// startRefresher starts a refresher of r's locks.
func startRefresher(r *lockRegistry) *refresher {
	rf := &refresher{stop: make(chan struct{}), done: make(chan struct{})}
	interval := refreshInterval
	go func() {
		defer close(rf.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-rf.stop:
				return
			case <-t.C:
			}
			for _, l := range r.snapshot() {
				select {
				case <-rf.stop:
					return
				default:
				}
				l.touch()
			}
		}
	}()
	return rf
}

// touch sets the modification time of l's file to now, if the file still
// holds l's record. It gives up at once when the flock is taken: the next
// round will do.
func (l *Lock) touch() {
	fd, err := openLockFile(l.path, false)
	if err != nil {
		return
	}
	defer closeFD(fd)
	if flockNB(fd) != nil {
		return
	}
	var buf [maxOwnerLine + 1]byte
	n, err := preadFull(fd, buf[:])
	if err != nil || !l.isRecord(buf[:n]) {
		return // released, or no longer ours
	}
	_ = touchFD(fd)
}
