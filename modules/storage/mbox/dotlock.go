// Unix gives mbox the dotlock that MTAs and mail readers take, with kill(2) to spot a dead holder.

//go:build unix

package mbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"
)

// DotlockSuffix is added to a spool's path to name its dotlock, as MTAs,
// mail readers and other POP3 and IMAP servers do.
const DotlockSuffix = ".lock"

// StaleLockAge is how old (by modification time) a dotlock must be before
// it may be taken over, and only when the process it names is gone. A
// session's own dotlock is refreshed every refreshInterval, so it never
// gets that old while the session lives.
const StaleLockAge = 5 * time.Minute

// refreshInterval is how often a session touches its dotlock.
const refreshInterval = time.Minute

// errNoDotlock means that the spool's directory does not let this process
// create files, so no dotlock can be taken there; the kernel locks still
// apply.
var errNoDotlock = errors.New("no permission to create a dotlock")

// dotlock is a dotlock this process created.
type dotlock struct {
	path     string
	dev, ino uint64 // the lock file, to remove it only if it is still ours
}

// takeDotlock creates <spool>.lock with O_CREAT|O_EXCL, writing this
// process's id in it, without waiting. It returns errBusy when another
// holder has it (after taking over a stale one, see breakStale) and
// errNoDotlock when the directory does not allow it.
func takeDotlock(spool string) (*dotlock, error) {
	path := spool + DotlockSuffix
	for range 2 {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return finishDotlock(path, f)
		}
		switch {
		case errors.Is(err, fs.ErrExist):
			if !breakStale(path) {
				return nil, errBusy
			}
		case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
			return nil, errNoDotlock
		default:
			return nil, fmt.Errorf("creating dotlock %s: %w", path, err)
		}
	}
	return nil, errBusy
}

// finishDotlock writes the process id into a new dotlock and records its
// identity.
func finishDotlock(path string, f *os.File) (*dotlock, error) {
	_, werr := f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	st, serr := f.Stat()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("writing dotlock %s: %w", path, err)
	}
	dev, ino := fileID(st)
	return &dotlock{path: path, dev: dev, ino: ino}, nil
}

// breakStale removes the dotlock at path if it is stale: older than
// StaleLockAge and naming no process that is still alive (or naming none
// at all, as some MTAs leave them empty). It reports whether the lock is
// gone.
func breakStale(path string) bool {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil || time.Since(st.ModTime()) < StaleLockAge {
		return false
	}
	if pid := dotlockPID(path); pid > 0 && processAlive(pid) {
		return false
	}
	// Remove it only if it is still the file we judged, so that a fresh
	// lock taken in the meantime by someone else survives.
	again, err := os.Lstat(path)
	if err != nil || !os.SameFile(st, again) || !again.ModTime().Equal(st.ModTime()) {
		return errors.Is(err, fs.ErrNotExist)
	}
	err = os.Remove(path)
	return err == nil || errors.Is(err, fs.ErrNotExist)
}

// dotlockPID returns the process id written at the start of a dotlock, or
// 0 when there is none.
func dotlockPID(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	buf := make([]byte, 32)
	n, _ := io.ReadFull(f, buf)
	i := 0
	for i < n && buf[i] >= '0' && buf[i] <= '9' {
		i++
	}
	pid, err := strconv.Atoi(string(buf[:i]))
	if err != nil {
		return 0
	}
	return pid
}

// processAlive reports whether a process with this id exists on this
// machine.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// refresh touches the dotlock so that no program takes it for stale.
func (d *dotlock) refresh() {
	if d.stillOurs() {
		now := time.Now()
		_ = os.Chtimes(d.path, now, now)
	}
}

// remove deletes the dotlock if it is still the one this process created.
func (d *dotlock) remove() error {
	if !d.stillOurs() {
		return nil
	}
	if err := os.Remove(d.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing dotlock: %w", err)
	}
	return nil
}

// stillOurs reports whether the file at the dotlock's path is the one this
// process created (another program may have taken it over): the same
// inode (which a new file may reuse) naming this process.
func (d *dotlock) stillOurs() bool {
	st, err := os.Lstat(d.path)
	if err != nil {
		return false
	}
	dev, ino := fileID(st)
	return dev == d.dev && ino == d.ino && dotlockPID(d.path) == os.Getpid()
}

// fileID returns the device and inode numbers of a file.
func fileID(st fs.FileInfo) (dev, ino uint64) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Dev), uint64(sys.Ino) //nolint:unconvert // Dev is not uint64 everywhere
	}
	return 0, 0
}
