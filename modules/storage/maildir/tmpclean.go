package maildir

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// Files in tmp/ are deliveries in progress. One that has not changed for
// tmpMaxAge was left by a delivery that was killed, and is removed at a
// login (the maildir convention: qmail, Dovecot and Courier use 36 hours).
// The work is bounded: a login reads at most tmpScanLimit entries of tmp/
// and removes at most maxTmpCleanup files; it happens at most once per
// tmpCleanupEvery per maildir and process, unless the last one stopped at
// a bound.
const (
	tmpMaxAge       = 36 * time.Hour
	tmpScanLimit    = 4096
	maxTmpCleanup   = 1000
	tmpCleanupEvery = time.Hour
	// maxTmpCleaned bounds the memory of when each maildir was cleaned.
	maxTmpCleaned = 1 << 16
)

// tmpCleaned remembers, by maildir root, when its tmp/ was last cleaned
// completely.
var tmpCleaned = struct {
	sync.Mutex
	at map[string]time.Time
}{at: map[string]time.Time{}}

// forgetTmpCleanup makes the next login into root clean its tmp/.
func forgetTmpCleanup(root string) {
	tmpCleaned.Lock()
	delete(tmpCleaned.at, root)
	tmpCleaned.Unlock()
}

// cleanTmpIfDue removes the files left in tmp/ by killed deliveries when
// that is due (see tmpMaxAge), creating tmp/ when it is missing. A tmp/
// that is a symbolic link or not a directory is left alone (and logged):
// the session does not need it, and deliveries refuse it.
func (md *maildrop) cleanTmpIfDue(now time.Time) {
	tmpCleaned.Lock()
	last, ok := tmpCleaned.at[md.root]
	tmpCleaned.Unlock()
	if ok && now.Sub(last) < tmpCleanupEvery {
		return
	}
	tmp, err := md.dir.sub(dirTmp, true)
	if err != nil {
		md.logger.Warn("opening tmp/ of a maildir (deliveries to it will fail)", zap.String("maildir", md.root), zap.Error(err))
		return
	}
	defer tmp.close()
	complete := cleanTmp(tmp, now, md.logger)
	tmpCleaned.Lock()
	defer tmpCleaned.Unlock()
	if !complete {
		delete(tmpCleaned.at, md.root)
		return
	}
	if len(tmpCleaned.at) >= maxTmpCleaned {
		clear(tmpCleaned.at) // the worst case is one more cleanup each
	}
	tmpCleaned.at[md.root] = now
}

// cleanTmp removes from tmp what has not changed for tmpMaxAge, except
// directories, without following symbolic links (a link is removed, its
// target never touched). It reports whether it looked at everything.
func cleanTmp(tmp *dir, now time.Time, logger *zap.Logger) (complete bool) {
	entries, err := tmp.entries(tmpScanLimit)
	if err != nil {
		logger.Warn("reading tmp/ of a maildir", zap.String("dir", tmp.path), zap.Error(err))
		return false
	}
	removed := 0
	for _, e := range entries {
		if removed >= maxTmpCleanup {
			return false
		}
		st, err := tmp.lstat(e.Name())
		if err != nil || st.isDir || now.Sub(st.mtime) < tmpMaxAge {
			continue
		}
		if err := tmp.unlink(e.Name()); err != nil {
			logger.Warn("removing a file left in tmp/", zap.String("dir", tmp.path), zap.String("file", e.Name()), zap.Error(err))
			continue
		}
		removed++
	}
	if removed > 0 {
		logger.Info("removed files left in tmp/ by interrupted deliveries", zap.String("dir", tmp.path), zap.Int("files", removed))
	}
	return len(entries) < tmpScanLimit
}
