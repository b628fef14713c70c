package passwdfile

import (
	"errors"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// checkInterval is how often, at most, the file is checked for changes.
const checkInterval = time.Second

// current returns the user table, re-reading the file first if it changed
// and was not checked in the last second. If another login is re-reading
// it right now, current does not wait: it returns the table in use.
func (p *PasswdFile) current() *table {
	if p.mu.TryLock() {
		p.checkForChange()
		p.mu.Unlock()
	}
	return p.users.Load()
}

// checkForChange re-reads the file if it changed: another inode (replaced
// by a rename), another size or another modification time. p.mu is held.
func (p *PasswdFile) checkForChange() {
	now := p.now()
	if now.Sub(p.checked) < checkInterval {
		return
	}
	p.checked = now
	info, err := os.Stat(p.path)
	if err == nil && sameFile(p.info, info) {
		p.failed = ""
		return
	}
	if err == nil {
		err = p.load()
	}
	if err != nil && err.Error() != p.failed {
		p.failed = err.Error()
		p.logger.Error("cannot re-read the passwd file; the users read before stay in use",
			zap.String("file", p.path), zap.Error(err))
	}
}

// sameFile reports whether a and b describe the same, unchanged file.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// load reads and parses the file and puts its users in use. p.mu is held.
// On error nothing changes.
func (p *PasswdFile) load() error {
	f, err := os.Open(p.path)
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
	t, problems, err := parse(f)
	if err != nil {
		return err
	}
	p.users.Store(t)
	p.info = info
	p.failed = ""
	p.report(t, problems)
	return nil
}

// report logs what a new table holds and which lines are unusable; never a
// password or a hash.
func (p *PasswdFile) report(t *table, problems []problem) {
	for _, pr := range problems {
		fields := []zap.Field{zap.String("file", p.path), zap.Int("line", pr.line), zap.String("user", pr.user), zap.String("reason", pr.reason)}
		if pr.intended {
			p.logger.Debug("user disabled in passwd file", fields...)
		} else {
			p.logger.Warn("unusable line in passwd file; this user cannot log in", fields...)
		}
	}
	switch {
	case t.lines == 0:
		p.logger.Warn("passwd file has no users", zap.String("file", p.path))
	case len(t.users) == 0:
		p.logger.Error("no line of the passwd file is usable; nobody can log in", zap.String("file", p.path), zap.Int("lines", t.lines))
	default:
		p.logger.Info("passwd file loaded", zap.String("file", p.path), zap.Int("users", len(t.users)), zap.Int("unusable_lines", len(problems)))
	}
	classes := make(map[string]string, len(t.users))
	for user, pw := range t.users {
		classes[user] = pw.cost
	}
	auth.WarnTimingOutliers(p.logger, auth.TimingOutliers(classes, t.common), zap.String("file", p.path))
}
