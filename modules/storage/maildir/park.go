package maildir

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// parkAfter is how long a session's directories stay open after their
// last use; a variable for the tests.
var parkAfter = 2 * time.Second

// parking lets an idle session hold no file descriptor. A session's
// maildir, cur/ and new/ are open during the login; then they are closed
// ("parked"), and only their identities (device and inode) and the path
// are kept. The first use after that (RETR, TOP, the deletions of QUIT)
// opens them again by the same path, refusing symbolic links as the login
// did, and checks that each is still the directory the session logged
// into; they stay open while the session uses them and are parked again
// parkAfter after the last use. So 19,000 idle sessions cost 19,000
// descriptors (their connections), and a session whose maildir, cur/ or
// new/ was moved or replaced since the login reads and deletes nothing
// (its commands fail with an error) instead of reaching other files.
type parking struct {
	mu          sync.Mutex // held by every use of the directories
	prefix, rel string     // the maildir, as openTree takes it
	ids         [3]dirID   // the maildir, cur/ and new/ at login
	parked      bool       // the directories are closed
	lastUse     time.Time
	timer       *time.Timer // parks the directories once unused; made at the first unpark
	// counted: the open directories count against dirSessionBudget.
	// Open again but not counted (the budget was spent), they are open for
	// one operation only and closed again at its end (endOperation).
	counted bool
}

// openDirSessions counts the sessions whose directories are open again
// after their login (see use); dirSessionBudget bounds it.
var openDirSessions atomic.Int64

// dirSessionBudget is how many sessions may keep their three directories
// open between commands: a quarter of the descriptors the pop3 handler's
// max_connections default leaves spare (10% of the open-file limit, at
// least 256), at least 16. A session over it opens its directories for
// each RETR, TOP or deleting QUIT and closes them at its end, so that
// busy sessions cannot take the descriptors the listener needs to accept.
var dirSessionBudget = sync.OnceValue(func() int64 {
	limit, ok := openFileLimit()
	if !ok {
		return math.MaxInt64
	}
	limit = min(limit, 1<<30)
	return max(16, int64(max(limit/10, 256)/4))
})

// uncount gives back the session's share of dirSessionBudget.
func (md *maildrop) uncount() {
	if md.park.counted {
		openDirSessions.Add(-1)
		md.park.counted = false
	}
}

// remember records where the maildir is and which directories the
// session logged into.
func (md *maildrop) remember(prefix, rel string) error {
	md.park.prefix, md.park.rel = prefix, rel
	for i, d := range []*dir{md.dir, md.cur, md.new} {
		id, err := d.id()
		if err != nil {
			return err
		}
		md.park.ids[i] = id
	}
	return nil
}

// parkDirs closes the directories where they hold descriptors; md.park.mu
// is held or the maildrop not yet shared.
func (md *maildrop) parkDirs() {
	if !dirsHoldDescriptors || md.readOnly || md.park.parked {
		return
	}
	md.cur.close()
	md.new.close()
	md.dir.close()
	md.dir, md.cur, md.new = nil, nil, nil // an idle session keeps nothing of them
	md.park.parked = true
	md.uncount()
}

// endOperation parks directories opened for one operation only; md.park.mu
// is held.
func (md *maildrop) endOperation() {
	if !md.park.parked && !md.park.counted && !md.closed {
		md.parkDirs()
	}
}

// use makes the directories usable, opening them again when they are
// parked; md.park.mu is held.
func (md *maildrop) use() error {
	md.park.lastUse = time.Now()
	if !md.park.parked {
		return nil
	}
	dirs, err := md.reopen()
	if err != nil {
		return err
	}
	md.dir, md.cur, md.new = dirs[0], dirs[1], dirs[2]
	md.park.parked = false
	if openDirSessions.Add(1) > dirSessionBudget() {
		openDirSessions.Add(-1)
		// Not counted: closed again at the end of this operation.
		return nil
	}
	md.park.counted = true
	if md.park.timer == nil {
		md.park.timer = time.AfterFunc(parkAfter, md.parkIfIdle)
	} else {
		md.park.timer.Reset(parkAfter)
	}
	return nil
}

// reopen opens the maildir, cur/ and new/ again, each checked to be the
// one of the login.
func (md *maildrop) reopen() ([3]*dir, error) {
	var dirs [3]*dir
	fail := func(err error) ([3]*dir, error) {
		for _, d := range dirs {
			d.close()
		}
		return [3]*dir{}, err
	}
	root, err := openTree(md.park.prefix, md.park.rel, false)
	if err != nil {
		return fail(fmt.Errorf("opening maildir again: %w", err))
	}
	dirs[0] = root
	for i, name := range []string{dirCur, dirNew} {
		if dirs[i+1], err = root.sub(name, false); err != nil {
			return fail(err)
		}
	}
	for i, d := range dirs {
		id, err := d.id()
		if err != nil {
			return fail(err)
		}
		if id != md.park.ids[i] {
			return fail(fmt.Errorf("maildir: %s was moved or replaced during the session, refusing it: %w", d.path, errNotDirectory))
		}
	}
	return dirs, nil
}

// parkIfIdle parks the directories when they have not been used for
// parkAfter, and looks again later when they have.
func (md *maildrop) parkIfIdle() {
	md.park.mu.Lock()
	defer md.park.mu.Unlock()
	if md.closed || md.park.parked {
		return
	}
	if idle := time.Since(md.park.lastUse); idle < parkAfter {
		md.park.timer.Reset(parkAfter - idle)
		return
	}
	md.parkDirs()
}

// stopParking ends the timer of a maildrop being released; md.park.mu is
// held.
func (md *maildrop) stopParking() {
	if md.park.timer != nil {
		md.park.timer.Stop()
	}
	md.uncount()
}
