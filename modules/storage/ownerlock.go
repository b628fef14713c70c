package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// StaleLockAge is how long a lock file written by a process that cannot be
// checked (another machine, another pid namespace) keeps the lock without
// being touched. Holders touch their lock files every minute.
const StaleLockAge = 5 * time.Minute

// unownedLockAge is how long a lock file without an owner line (being
// created, or left by an older caddy-pop3 version) keeps the lock.
const unownedLockAge = 30 * time.Second

// maxOwnerLine bounds the owner line: a longer file is not an owner lock.
const maxOwnerLine = 1024

// lockAttempts bounds how often AcquireOwnerLock starts over when the lock
// file vanishes or is replaced while it looks at it.
const lockAttempts = 3

// refreshInterval is how often the lock files of held locks are touched; a
// variable for the tests.
var refreshInterval = time.Minute

// OwnerLock is an exclusive lock that holds no file descriptor while it is
// held: a session that holds a maildrop costs the process its connection
// and nothing more. The lock is a file whose one line names its owner:
//
//	caddy-pop3 pid=<pid> start=<start> boot=<boot id> pidns=<pid ns> host=<host name>
//
// where start is the process's start time in clock ticks since boot (field
// 22 of /proc/<pid>/stat), boot the kernel's boot id and pidns the process's
// pid namespace (readlink /proc/self/ns/pid); "-" stands for a value this
// system cannot tell.
//
// Taking the lock is creating the file (O_CREAT|O_EXCL), writing the line
// and closing it; releasing it is removing the file. When the file already
// exists, the would-be owner decides whether its owner is still alive:
//
//   - this process: held while the lock is in the process's registry of
//     held locks (another session, perhaps under an older config); a file
//     with this process's line that is not registered is a leftover;
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
//   - no owner line (empty: the owner is between creating and writing it,
//     or left by an older caddy-pop3 that locked the file with flock(2);
//     or something else): held while younger than 30 seconds.
//
// A stale lock is taken over in place: the new owner rewrites the line of
// the existing file rather than removing it and creating another one, so
// two processes that found the same stale lock cannot both win. Deciding
// and taking over happen under a transient flock(2) on the file, held for
// the few system calls that takes: a second would-be owner that finds it
// taken (or an older caddy-pop3 that holds the file by flock) is told the
// lock is in use.
//
// Owner locks work across the sessions of a process, across its config
// reloads and across processes on the same machine or, through a shared
// file system such as NFS, on several; a process that dies (even by
// SIGKILL) leaves a lock that the next owner on the same machine takes over
// at once, and one from another machine after StaleLockAge. Removing a
// lock file by hand is safe when no caddy-pop3 runs on it. Older
// caddy-pop3 versions, which hold the file by flock without writing it,
// must not serve the same maildrops at the same time as this one: they
// would not see its locks.
type OwnerLock struct {
	path     string
	id       fileID
	released atomic.Bool
}

// fileID identifies a file: its device and inode numbers.
type fileID struct {
	dev, ino uint64
}

// AcquireOwnerLock takes the owner lock at path (a file that it creates,
// or takes over when its owner is gone; see OwnerLock) without waiting. It
// returns ErrInUse when the lock is held, by this process or another one.
// It never follows a symbolic link at path.
func AcquireOwnerLock(path string) (*OwnerLock, error) {
	me := self()
	for range lockAttempts {
		l, err := createLock(path, me)
		if err == nil || !errors.Is(err, os.ErrExist) {
			return l, err
		}
		l, retry, err := inspectLock(path, me)
		if !retry {
			return l, err
		}
	}
	return nil, ErrInUse
}

// createLock creates the lock file of a free lock. It fails with an error
// matching os.ErrExist when the file exists.
func createLock(path string, me *identity) (*OwnerLock, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("creating lock file: %w", err)
	}
	id, err := statID(f)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	// Registered before its line is written: a session of this process
	// that reads the line finds the lock held, never a leftover.
	l := &OwnerLock{path: path, id: id}
	locks.register(l, false)
	_, err = f.WriteString(me.line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// Nobody else takes a file this young: it is still ours.
		if atPath(path, id) {
			_ = os.Remove(path)
		}
		locks.unregister(l)
		return nil, fmt.Errorf("writing lock file %s: %w", path, err)
	}
	return l, nil
}

// inspectLock looks at an existing lock file, under a transient flock, and
// takes the lock over when its owner is gone. retry reports that the file
// vanished or was replaced meanwhile, and the caller should start over.
func inspectLock(path string, me *identity) (l *OwnerLock, retry bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, true, nil // released meanwhile
		}
		return nil, false, fmt.Errorf("opening lock file: %w", err)
	}
	defer f.Close() // also drops the flock
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			// Another would-be owner is deciding, or an older
			// caddy-pop3 holds the file.
			return nil, false, ErrInUse
		}
		return nil, false, fmt.Errorf("locking %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("lock file %s: %w", path, err)
	}
	id := idOf(fi)
	if !atPath(path, id) {
		return nil, true, nil // released (and perhaps taken) meanwhile
	}
	buf := make([]byte, maxOwnerLine+1)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("reading lock file %s: %w", path, err)
	}
	l = &OwnerLock{path: path, id: id}
	owner, ok := parseOwner(buf[:n])
	if ok && owner.line == me.line {
		// Ours: held by a session of this process, or a leftover to
		// take over; deciding and registering is one step.
		if !locks.register(l, true) {
			return nil, false, ErrInUse
		}
	} else {
		if !me.stale(owner, ok, fi.ModTime(), time.Now()) {
			return nil, false, ErrInUse
		}
		locks.register(l, false)
	}
	// A lock of this process is released by removing its file before it
	// leaves the registry: now that the registry said it was free, the
	// file is still at path unless it was released.
	if !atPath(path, id) {
		locks.unregister(l)
		return nil, true, nil
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(me.line), 0) // and the mtime is now
	}
	if err != nil {
		// Nobody owns it now: make way for the next one.
		locks.unregister(l)
		_ = os.Remove(path)
		return nil, false, fmt.Errorf("taking over lock file %s: %w", path, err)
	}
	return l, false, nil
}

// Unlock releases the lock: it removes the lock file, unless the file at
// the path is no longer this lock's (someone removed it by hand, and
// perhaps another owner created a new one). It is safe to call more than
// once, and on a nil lock.
func (l *OwnerLock) Unlock() error {
	if l == nil || l.released.Swap(true) {
		return nil
	}
	// Removed before it leaves the registry: a session of this process
	// that finds the lock file while it is still there sees it held.
	var err error
	if locks.owns(l) && l.fileIsOurs() {
		if err = os.Remove(l.path); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	locks.unregister(l)
	if err != nil {
		return fmt.Errorf("removing lock file: %w", err)
	}
	return nil
}

// fileIsOurs reports whether the file at l's path is l's file and names
// this process as its owner. Checking the owner line too keeps a lock
// whose file was removed by hand from removing a new lock file that
// reuses its inode number.
func (l *OwnerLock) fileIsOurs() bool {
	f, err := os.OpenFile(l.path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if id, err := statID(f); err != nil || id != l.id {
		return false
	}
	line := self().line
	buf := make([]byte, len(line)+1)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return string(buf[:n]) == line
}

// statID returns the identity of an open file.
func statID(f *os.File) (fileID, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileID{}, err
	}
	return idOf(fi), nil
}

// idOf returns the identity of the file fi describes.
func idOf(fi os.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
}

// atPath reports whether the file at path (not following a symbolic link)
// is the file id.
func atPath(path string, id fileID) bool {
	fi, err := os.Lstat(path)
	return err == nil && idOf(fi) == id
}

// locks is this process's registry of held owner locks.
var locks = &lockRegistry{held: make(map[fileID]*OwnerLock)}

// lockRegistry is a set of held owner locks, keyed by their files; while
// it is not empty, a refresher touches their files every refreshInterval.
type lockRegistry struct {
	mu        sync.Mutex
	held      map[fileID]*OwnerLock
	refresher *refresher
}

// register adds l. With ifAbsent it adds l only when no lock of the same
// file is registered, and reports whether it did. Otherwise it replaces
// such a lock: its file was removed by hand and its inode reused.
func (r *lockRegistry) register(l *OwnerLock, ifAbsent bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ifAbsent && r.held[l.id] != nil {
		return false
	}
	r.held[l.id] = l
	if r.refresher == nil {
		r.refresher = startRefresher(r)
	}
	return true
}

// owns reports whether l is the registered lock of its file.
func (r *lockRegistry) owns(l *OwnerLock) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held[l.id] == l
}

// unregister removes l, if it is registered. When that empties the
// registry, it stops the refresher and waits for it to end.
func (r *lockRegistry) unregister(l *OwnerLock) {
	r.mu.Lock()
	if r.held[l.id] == l {
		delete(r.held, l.id)
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
func (r *lockRegistry) snapshot() []*OwnerLock {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*OwnerLock, 0, len(r.held))
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
				// Only the lock's own file: the path may have been
				// released and reused since the snapshot.
				if atPath(l.path, l.id) {
					now := time.Now()
					_ = os.Chtimes(l.path, now, now)
				}
			}
		}
	}()
	return rf
}

// identity is a process's owner line, and what it says.
type identity struct {
	line  string // the whole line, with its newline
	pid   int
	start string // start time in clock ticks after boot
	boot  string // boot id
	pidns string // pid namespace
	host  string // host name
}

// unknown stands for a value of an identity that the system cannot tell.
const unknown = "-"

// self returns this process's identity, worked out once.
var self = sync.OnceValue(func() *identity {
	host, _ := os.Hostname()
	id := systemIdentity()
	return newIdentity(os.Getpid(), id.start, id.boot, id.pidns, host)
})

// newIdentity returns the identity with the given values, cleaned so that
// each is one word of printable ASCII.
func newIdentity(pid int, start, boot, pidns, host string) *identity {
	id := &identity{pid: pid, start: word(start), boot: word(boot), pidns: word(pidns), host: word(host)}
	id.line = fmt.Sprintf("caddy-pop3 pid=%d start=%s boot=%s pidns=%s host=%s\n", id.pid, id.start, id.boot, id.pidns, id.host)
	return id
}

// word returns s as one word of printable ASCII: unknown if it is empty,
// with '_' for any space, control or non-ASCII byte.
func word(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return unknown
	}
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c >= 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}

// parseOwner reads an owner line. It reports false for anything else
// (including an empty file).
func parseOwner(b []byte) (*identity, bool) {
	s, ok := strings.CutSuffix(string(b), "\n")
	if !ok || len(b) > maxOwnerLine || strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	fields := strings.Fields(s)
	if len(fields) == 0 || fields[0] != "caddy-pop3" {
		return nil, false
	}
	v := make(map[string]string, len(fields))
	for _, f := range fields[1:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok || val == "" {
			return nil, false
		}
		v[k] = val
	}
	pid, err := strconv.Atoi(v["pid"])
	if err != nil || pid <= 0 {
		return nil, false
	}
	for _, k := range []string{"start", "boot", "pidns", "host"} {
		if v[k] == "" {
			return nil, false
		}
	}
	return newIdentity(pid, v["start"], v["boot"], v["pidns"], v["host"]), true
}

// stale decides whether a lock file that is not this process's own is
// stale, from its owner line (ok false: none) and its modification time.
func (me *identity) stale(owner *identity, ok bool, mtime, now time.Time) bool {
	age := now.Sub(mtime)
	switch {
	case !ok:
		return age > unownedLockAge
	case owner.host == me.host && owner.boot == me.boot && owner.pidns == me.pidns:
		alive, sure := processAlive(owner.pid, owner.start)
		if !alive {
			return true
		}
		// Without the start time, a live process with that pid may be
		// another one; the lock of a live caddy-pop3 is fresh.
		return !sure && age > StaleLockAge
	case owner.host == me.host && owner.boot != me.boot && me.boot != unknown:
		if booted, ok := bootTime(); ok && mtime.Before(booted) {
			return true // left before this machine restarted
		}
	}
	return age > StaleLockAge
}
