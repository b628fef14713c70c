// Unix gives mbox the dotlock that MTAs and mail readers take, with kill(2) to spot a dead holder.

//go:build unix

package mbox

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/lockowner"
)

// DotlockSuffix is added to a spool's path to name its dotlock, as MTAs,
// mail readers and other POP3 and IMAP servers do.
const DotlockSuffix = ".lock"

// StaleLockAge is how old (by modification time) a dotlock written by
// another program (which names its owner by pid alone, or not at all)
// must be before it may be taken over, and only when the process it names
// is gone. A session's own dotlock is refreshed every refreshInterval, so
// it never gets that old while the session lives. Dotlocks this server
// writes name their owner fully and are judged by that (see breakStale).
const StaleLockAge = 5 * time.Minute

// maxDotlock bounds how much of a dotlock is read to judge it.
const maxDotlock = 1024

// refreshInterval is how often a session touches its dotlock.
const refreshInterval = time.Minute

// errNoDotlock means that the spool's directory does not let this process
// create files, so no dotlock can be taken there; the kernel locks still
// apply.
var errNoDotlock = errors.New("no permission to create a dotlock")

// dotlock is a dotlock this process created.
type dotlock struct {
	path     string
	dev, ino uint64   // the lock file, to remove it only if it is still ours
	f        *os.File // the lock file, flocked for as long as the lock is held
}

// takeDotlock creates <spool>.lock, naming this process in it, without
// waiting. It returns errBusy when another holder has it (after taking
// over a stale one, see breakStale) and errNoDotlock when the directory
// does not allow it.
//
// The lock file appears at once with its whole content and its flock
// (see finishDotlock): it is written and flocked under a unique name
// first, then hard-linked to <spool>.lock (which fails if that exists, as
// O_EXCL would), as liblockfile does. A process killed half-way leaves no
// empty dotlock, which would be another MTA's for all anyone can tell and
// so be kept for StaleLockAge. Where hard links are not supported, the
// dotlock is created with O_EXCL and written.
func takeDotlock(spool string) (*dotlock, error) {
	path := spool + DotlockSuffix
	var r [6]byte
	_, _ = rand.Read(r[:])
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%d.%x.caddy-pop3.tmp", filepath.Base(path), os.Getpid(), r))
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	switch {
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
		return nil, errNoDotlock
	case err != nil:
		return nil, fmt.Errorf("creating dotlock %s: %w", path, err)
	}
	defer os.Remove(tmp)
	d, err := finishDotlock(path, f)
	if err != nil {
		return nil, err
	}
	for range 2 {
		err := os.Link(tmp, path)
		if err == nil {
			return d, nil
		}
		switch {
		case errors.Is(err, fs.ErrExist):
			if !breakStale(path) {
				_ = d.f.Close()
				return nil, errBusy
			}
		case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EMLINK):
			_ = d.f.Close()
			return takeDotlockExcl(path)
		default:
			_ = d.f.Close()
			return nil, fmt.Errorf("creating dotlock %s: %w", path, err)
		}
	}
	_ = d.f.Close()
	return nil, errBusy
}

// takeDotlockExcl is takeDotlock where hard links are not supported.
func takeDotlockExcl(path string) (*dotlock, error) {
	for range 2 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
		if err == nil {
			d, err := finishDotlock(path, f)
			if err != nil {
				_ = os.Remove(path)
			}
			return d, err
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

// finishDotlock flocks a new lock file (at its final path or not yet),
// writes its owner in it and records its identity. The content is two
// lines: the pid, which is all that other MTAs and mail readers read
// (liblockfile, Postfix, mutt), then this process's full identity
// (lockowner.Self().Line()). The flock is taken before anything is
// written, and held until the dotlock is removed: a dotlock that names a
// caddy-pop3 process and whose flock is free was left by a process that
// is gone (the kernel drops the flock of a dead process).
func finishDotlock(path string, f *os.File) (*dotlock, error) {
	fail := func(err error) (*dotlock, error) {
		_ = f.Close()
		return nil, fmt.Errorf("writing dotlock %s: %w", path, err)
	}
	if err := flockNB(f); err != nil {
		return fail(err)
	}
	content := strconv.Itoa(os.Getpid()) + "\n" + lockowner.Self().Line() + "\n"
	if _, err := f.WriteString(content); err != nil {
		return fail(err)
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	dev, ino := fileID(st)
	return &dotlock{path: path, dev: dev, ino: ino, f: f}, nil
}

// flockNB takes an exclusive flock on f without waiting.
func flockNB(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// breakStale removes the dotlock at path if it is stale, and reports
// whether the lock is gone. It judges the file under a flock of its own,
// so that two processes judging the same dotlock never both remove it
// (the second finds the path names another file), and so that the flock
// of a live caddy-pop3 owner tells it is alive:
//
//   - a dotlock that names a caddy-pop3 owner (see finishDotlock): held
//     while its flock is held. With the flock free, it is stale at once
//     when the owner ran on this kernel (same boot id and host name,
//     whatever its pid namespace: a restarted server that is PID 1 again
//     in a container is not the dead one); otherwise (another machine
//     sharing the spool over NFS) by the rules of owner locks
//     (lockowner.Owner.Stale): StaleLockAge after its last refresh;
//   - any other dotlock (another MTA's: a pid, or nothing): stale when it
//     is older than StaleLockAge and names no process that is still
//     alive.
func breakStale(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	flockFree := true
	if err := flockNB(f); errors.Is(err, syscall.EWOULDBLOCK) {
		return false // its owner, or another process judging it
	} else if err != nil {
		// A file system whose flock needs a writable descriptor (NFS
		// emulates it with fcntl locks) or has none: judge without it.
		flockFree = false
	}
	buf := make([]byte, maxDotlock)
	n, _ := io.ReadFull(f, buf)
	if !isStale(buf[:n], st.ModTime(), flockFree) {
		return false
	}
	// Remove it only if the path still names the file judged.
	again, err := os.Lstat(path)
	if err != nil || !os.SameFile(st, again) {
		return errors.Is(err, fs.ErrNotExist)
	}
	err = os.Remove(path)
	return err == nil || errors.Is(err, fs.ErrNotExist)
}

// isStale judges the content of a dotlock, modified at mtime (see
// breakStale). flockFree tells that its flock was free; false when it
// could not be tried.
func isStale(content []byte, mtime time.Time, flockFree bool) bool {
	pidLine, rest, _ := bytes.Cut(content, []byte("\n"))
	idLine, _, _ := bytes.Cut(rest, []byte("\n"))
	if owner, ok := lockowner.ParseLine(idLine); ok {
		return (flockFree && owner.SameKernel()) || owner.Stale(mtime)
	}
	if time.Since(mtime) < StaleLockAge {
		return false
	}
	pid := leadingPID(pidLine)
	return pid <= 0 || !processAlive(pid)
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
	return leadingPID(buf[:n])
}

// leadingPID returns the decimal number at the start of b, or 0.
func leadingPID(b []byte) int {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	pid, err := strconv.Atoi(string(b[:i]))
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

// remove deletes the dotlock if it is still the one this process
// created, then drops its flock (in that order, so that a process judging
// it meanwhile finds it held, and then finds it gone).
func (d *dotlock) remove() error {
	var err error
	if d.stillOurs() {
		if rerr := os.Remove(d.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("removing dotlock: %w", rerr)
		}
	}
	if d.f != nil {
		_ = d.f.Close()
		d.f = nil
	}
	return err
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
