package storage

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// FileLock is an exclusive advisory lock (flock(2)) on a file. flock locks
// belong to an open file description, so a FileLock conflicts with every
// other FileLock on the same file, in this process (another session, a
// reloaded config) or in another one (a second Caddy, a delivery tool). The
// kernel drops it when the process dies, so a crash never leaves a stale
// lock behind.
type FileLock struct {
	f *os.File
}

// LockFile creates path if needed and takes an exclusive lock on it without
// waiting. It returns ErrInUse when another holder has it.
func LockFile(path string) (*FileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrInUse
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &FileLock{f: f}, nil
}

// Unlock releases the lock. It is safe to call more than once.
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
