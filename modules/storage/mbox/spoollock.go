// Unix gives mbox the spool locks MTAs share: dotlock, flock(2) and an fcntl(2) write lock.

//go:build unix

package mbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"
)

// errBusy means that another holder has one of the spool's locks.
var errBusy = errors.New("mailbox is locked")

// spoolLock is everything that locks one spool, the way MTAs and mail
// readers expect: the dotlock <spool>.lock, then flock(2) and an fcntl(2)
// write lock on the spool file itself. Programs that use any of the three
// wait for it.
type spoolLock struct {
	spool string
	dot   *dotlock // nil when the directory does not allow dotlocks
	f     *os.File // the spool, open read-write, flock- and fcntl-locked; nil when there is no spool file

	stopOnce sync.Once
	stop     chan struct{} // closed to stop the dotlock refresher
	stopped  chan struct{} // closed when the refresher has returned
}

// lockSpool takes all the locks of spool without waiting, in the order
// MTAs take them (dotlock first). It returns errBusy when any is held by
// someone else, having released the others. With create, a missing spool
// file is created (mode 0600); without, a missing spool is locked by the
// dotlock alone. noDotlock is true when the directory does not allow a
// dotlock and only the kernel locks were taken.
func lockSpool(spool string, create bool) (l *spoolLock, noDotlock bool, err error) {
	l = &spoolLock{spool: spool}
	l.dot, err = takeDotlock(spool)
	switch {
	case errors.Is(err, errNoDotlock):
		noDotlock = true
	case err != nil:
		return nil, false, err
	}
	l.f, err = openSpool(spool, create)
	if err != nil {
		l.release()
		return nil, noDotlock, err
	}
	if l.f == nil {
		// No spool: an empty maildrop, which the dotlock (if any) keeps
		// empty. Without a dotlock nothing is locked, and nothing needs
		// to be: a session of an empty maildrop changes nothing.
		return l, noDotlock, nil
	}
	if err := lockFile(l.f); err != nil {
		l.release()
		return nil, noDotlock, err
	}
	// The spool may have been replaced (renamed over) between open and
	// lock: then the lock is on a file that is no longer the spool.
	if st, err := os.Lstat(spool); err != nil || !sameFile(st, l.f) {
		l.release()
		return nil, noDotlock, errBusy
	}
	return l, noDotlock, nil
}

// openSpool opens the spool file read-write, refusing symbolic links,
// files that are not regular and files with more than one link (a spool
// that is a link to another file would let a user read or write it through
// this server). It returns nil and no error when the file does not exist
// and create is false.
func openSpool(spool string, create bool) (*os.File, error) {
	flags := os.O_RDWR | syscall.O_NOFOLLOW
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(spool, flags, 0o600)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil, nil
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("mailbox %s is a symbolic link, refusing it", spool)
	}
	if err != nil {
		return nil, fmt.Errorf("opening mailbox: %w", err)
	}
	if err := checkSpoolFile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// checkSpoolFile refuses a spool that is not a regular file with exactly
// one link.
func checkSpoolFile(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("mailbox %s: %w", f.Name(), err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("mailbox %s is not a regular file", f.Name())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Nlink > 1 {
		return fmt.Errorf("mailbox %s has %d hard links, refusing it", f.Name(), sys.Nlink)
	}
	return nil
}

// lockFile takes flock(2) and fcntl(2) write locks on f without waiting.
func lockFile(f *os.File) error {
	fd := f.Fd()
	for {
		err := syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return errBusy
		}
		if err != nil {
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
		break
	}
	for {
		err := fcntlLock(fd)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
			return errBusy
		}
		if err != nil {
			return fmt.Errorf("fcntl lock %s: %w", f.Name(), err)
		}
		return nil
	}
}

// sameFile reports whether st describes the file f has open.
func sameFile(st fs.FileInfo, f *os.File) bool {
	fst, err := f.Stat()
	return err == nil && os.SameFile(st, fst)
}

// keepFresh starts touching the dotlock every refreshInterval until
// release, so that a long session's lock is never taken for stale.
func (l *spoolLock) keepFresh() {
	if l.dot == nil || l.stop != nil {
		return
	}
	l.stop, l.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.stopped)
		t := time.NewTicker(refreshInterval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.dot.refresh()
			}
		}
	}()
}

// stopRefresh stops the refresher, if any, and waits for it.
func (l *spoolLock) stopRefresh() {
	l.stopOnce.Do(func() {
		if l.stop != nil {
			close(l.stop)
			<-l.stopped
		}
	})
}

// release drops every lock: the kernel locks (by closing the spool) and
// then the dotlock, if it is still ours.
func (l *spoolLock) release() error {
	l.stopRefresh()
	var errs []error
	if l.f != nil {
		errs = append(errs, l.f.Close())
		l.f = nil
	}
	if l.dot != nil {
		errs = append(errs, l.dot.remove())
		l.dot = nil
	}
	return errors.Join(errs...)
}
