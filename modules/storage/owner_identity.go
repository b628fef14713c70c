package storage

import "time"

// This file lets other lock files (the mbox backend's dotlocks) name
// their owner the way owner locks do (see OwnerLock), and judge a named
// owner by the same rules.

// ProcessIdentity returns the line that names this process in its owner
// locks, without a newline and without a lock= field:
//
//	caddy-pop3 pid=<pid> start=<start> boot=<boot id> pidns=<pid ns> host=<host name>
func ProcessIdentity() string {
	return self().key
}

// Owner is the process that an identity line names.
type Owner struct {
	id *identity
}

// ParseOwner reads an identity line as ProcessIdentity writes it (a
// trailing newline, padding and a lock= field are allowed). It reports
// false for anything else.
func ParseOwner(line []byte) (Owner, bool) {
	if len(line) == 0 || line[len(line)-1] != '\n' {
		line = append(line[:len(line):len(line)], '\n')
	}
	id, _, ok := parseOwner(line)
	if !ok {
		return Owner{}, false
	}
	return Owner{id: id}, true
}

// IsSelf reports whether o is this process.
func (o Owner) IsSelf() bool {
	return o.id.key == self().key
}

// SameKernel reports whether o ran on the kernel this process runs on:
// the same host name and the same, known, boot id. Kernel locks (flock,
// fcntl) that o held are then seen by this process, whatever pid
// namespace either is in; when o is gone, its kernel locks are gone too.
func (o Owner) SameKernel() bool {
	me := self()
	return o.id.boot != unknown && o.id.boot == me.boot && o.id.host == me.host
}

// Stale reports whether a lock file that names o, last modified at
// mtime, is stale by the rules of owner locks (see OwnerLock): o is this
// process (never stale here: the caller knows its own locks), a process
// of this machine and pid namespace that is provably gone (its pid is
// free or reused), a process from before this machine last booted, or
// anyone else whose file is StaleLockAge old.
func (o Owner) Stale(mtime time.Time) bool {
	if o.IsSelf() {
		return false
	}
	return self().stale(o.id, true, mtime, time.Now())
}
