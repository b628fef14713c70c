package passwdfile

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// checkInterval is how often, at most, a file is checked for changes.
const checkInterval = time.Second

// source is one passwd-file and the users read from it last.
type source struct {
	path string
	// perDomain is true for a file of a path template (%d): such a file
	// is read on first use, and a missing one means no users.
	perDomain bool
	p         *PasswdFile

	// users is the table read last; Authenticate only reads it. nil
	// until the first read of a per-domain file.
	users atomic.Pointer[table]

	// mu guards what follows: the state of the change check.
	mu sync.Mutex
	// checked is when the file was last looked at.
	checked time.Time
	// info is the file the table was read from; nil for none.
	info os.FileInfo
	// failed is the last reload error logged, so that a file that stays
	// unreadable is logged once, not every second.
	failed string
}

// current returns the user table, re-reading the file first if it changed
// and was not checked in the last second. If another login is re-reading
// it right now, current does not wait: it returns the table in use. Only
// the first read of a per-domain file is waited for.
func (s *source) current() *table {
	if t := s.users.Load(); t != nil {
		if s.mu.TryLock() {
			s.checkForChange()
			s.mu.Unlock()
		}
		return s.users.Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users.Load() == nil {
		s.checked = s.p.now()
		s.failedTo(s.load())
	}
	return s.users.Load()
}

// checkForChange re-reads the file if it changed: another inode (replaced
// by a rename), another size or another modification time. s.mu is held.
func (s *source) checkForChange() {
	now := s.p.now()
	if now.Sub(s.checked) < checkInterval {
		return
	}
	s.checked = now
	info, err := os.Stat(s.path)
	if err == nil && sameFile(s.info, info) {
		s.failed = ""
		return
	}
	if err == nil || s.perDomain {
		err = s.load()
	}
	s.failedTo(err)
}

// failedTo logs a read error once. A per-domain file that never could be
// read gets a table whose err makes logins fail as the server's fault; one
// read before keeps its users. s.mu is held.
func (s *source) failedTo(err error) {
	if err == nil {
		return
	}
	if s.perDomain {
		if t := s.users.Load(); t == nil || t.err != nil {
			s.users.Store(&table{users: map[string]*password{}, dummy: builtinDummy(), err: err})
		}
	}
	if err.Error() != s.failed {
		s.failed = err.Error()
		s.p.logger.Error("cannot re-read the passwd file; the users read before stay in use",
			zap.String("file", s.path), zap.Error(err))
	}
}

// sameFile reports whether a and b describe the same, unchanged file.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// load reads and parses the file and puts its users in use. s.mu is held.
// On error nothing changes, except that a missing per-domain file is no
// error: its table is empty.
func (s *source) load() error {
	f, err := os.Open(s.path)
	if s.perDomain && errors.Is(err, fs.ErrNotExist) {
		if t := s.users.Load(); t == nil || s.info != nil || t.err != nil {
			s.p.logger.Debug("no passwd file for this domain; its users cannot log in", zap.String("file", s.path))
			s.users.Store(&table{users: map[string]*password{}, dummy: builtinDummy()})
		}
		s.info = nil
		s.failed = ""
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.IsDir() {
		return errors.New("is a directory")
	}
	t, problems, err := parse(f, s.p.scheme)
	if err != nil {
		return err
	}
	s.users.Store(t)
	s.info = info
	s.failed = ""
	s.report(t, problems)
	return nil
}

// report logs what a new table holds and which lines are unusable; never a
// password or a hash.
func (s *source) report(t *table, problems []problem) {
	logger := s.p.logger
	for _, pr := range problems {
		fields := []zap.Field{zap.String("file", s.path), zap.Int("line", pr.line), zap.String("user", pr.user), zap.String("reason", pr.reason)}
		if pr.intended {
			logger.Debug("user disabled in passwd file", fields...)
		} else {
			logger.Warn("unusable line in passwd file; this user cannot log in", fields...)
		}
	}
	switch {
	case t.lines == 0:
		logger.Warn("passwd file has no users", zap.String("file", s.path))
	case len(t.users) == 0:
		logger.Error("no line of the passwd file is usable; nobody can log in", zap.String("file", s.path), zap.Int("lines", t.lines))
	default:
		logger.Info("passwd file loaded", zap.String("file", s.path), zap.Int("users", len(t.users)), zap.Int("unusable_lines", len(problems)))
	}
	classes := make(map[string]string, len(t.users))
	for user, pw := range t.users {
		classes[user] = pw.cost
	}
	auth.WarnTimingOutliers(logger, auth.TimingOutliers(classes, t.common), zap.String("file", s.path))
}
