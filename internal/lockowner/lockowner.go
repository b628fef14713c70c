// Package lockowner names the process that holds a lock, in one line that
// other processes, on this machine or on another one sharing the file
// system, can read and judge:
//
//	caddy-pop3 pid=<pid> start=<start> boot=<boot id> pidns=<pid ns> host=<host name>
//
// A lock file may add a lock= field, lock=<n>, with a number its holder
// gives each lock it takes. start is the process's start time in clock
// ticks since boot (field 22 of /proc/<pid>/stat; on Windows its creation
// time), boot the kernel's boot id, pidns the process's pid namespace
// (readlink /proc/self/ns/pid); Unknown ("-") stands for a value this
// system cannot tell.
//
// The maildir backend's owner lock writes the line in its lock files, the
// mbox backend's dotlock on its second line; both judge the owner that a
// lock file names by the same rules (see Owner.Stale).
package lockowner

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StaleAge is how long a lock file written by a process that cannot be
// checked (another machine, another pid namespace) keeps the lock without
// being touched. Holders touch their lock files every minute.
const StaleAge = 5 * time.Minute

// Unknown stands for a value of an identity line that its system cannot
// tell.
const Unknown = "-"

// MaxLine is the longest identity line Parse reads, with its lock= field,
// its padding and its newline.
const MaxLine = 1024

// Owner is the process that an identity line names. Each value is one
// word of printable ASCII.
type Owner struct {
	line  string // the identity line, without lock= field and newline
	pid   int
	start string // start time in clock ticks after boot
	boot  string // boot id
	pidns string // pid namespace
	host  string // host name
}

// self is this process's identity, worked out once.
var self = sync.OnceValue(func() Owner {
	host, _ := os.Hostname()
	id := systemIdentity()
	return newOwner(os.Getpid(), id.start, id.boot, id.pidns, host)
})

// Self returns this process.
func Self() Owner {
	return self()
}

// newOwner returns the owner with the given values, cleaned so that each
// is one word of printable ASCII.
func newOwner(pid int, start, boot, pidns, host string) Owner {
	o := Owner{pid: pid, start: word(start), boot: word(boot), pidns: word(pidns), host: word(host)}
	o.line = fmt.Sprintf("caddy-pop3 pid=%d start=%s boot=%s pidns=%s host=%s", o.pid, o.start, o.boot, o.pidns, o.host)
	return o
}

// Line returns the line that names o, without a lock= field and without a
// newline.
func (o Owner) Line() string {
	return o.line
}

// AppendLine appends to b the line that names o with the lock= field of
// token, without a newline.
func (o Owner) AppendLine(b []byte, token uint64) []byte {
	b = append(b, o.line...)
	b = append(b, " lock="...)
	return strconv.AppendUint(b, token, 10)
}

// PID returns o's process id.
func (o Owner) PID() int {
	return o.pid
}

// word returns s as one word of printable ASCII: Unknown if it is empty,
// with '_' for any space, control or non-ASCII byte.
func word(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return Unknown
	}
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c >= 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}

// Parse reads the content of a lock file that holds one identity line,
// perhaps with a lock= field, perhaps padded with spaces before its
// newline, and returns its owner and lock token (0 when it has none). It
// reports false for anything else: no newline at the end, more than one
// line, more than MaxLine bytes, a missing or malformed field.
func Parse(b []byte) (owner Owner, token uint64, ok bool) {
	s, ok := strings.CutSuffix(string(b), "\n")
	if !ok || len(b) > MaxLine || strings.ContainsAny(s, "\r\n") {
		return Owner{}, 0, false
	}
	fields := strings.Fields(s)
	if len(fields) == 0 || fields[0] != "caddy-pop3" {
		return Owner{}, 0, false
	}
	v := make(map[string]string, len(fields))
	for _, f := range fields[1:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok || val == "" {
			return Owner{}, 0, false
		}
		v[k] = val
	}
	pid, err := strconv.Atoi(v["pid"])
	if err != nil || pid <= 0 {
		return Owner{}, 0, false
	}
	for _, k := range []string{"start", "boot", "pidns", "host"} {
		if v[k] == "" {
			return Owner{}, 0, false
		}
	}
	if t, ok := v["lock"]; ok {
		if token, err = strconv.ParseUint(t, 10, 64); err != nil {
			return Owner{}, 0, false
		}
	}
	return newOwner(pid, v["start"], v["boot"], v["pidns"], v["host"]), token, true
}

// ParseLine reads an identity line as Line writes it (a trailing newline,
// padding and a lock= field are allowed), as found in a file of several
// lines. It reports false for anything else.
func ParseLine(line []byte) (Owner, bool) {
	if len(line) == 0 || line[len(line)-1] != '\n' {
		line = append(line[:len(line):len(line)], '\n')
	}
	o, _, ok := Parse(line)
	return o, ok
}

// IsSelf reports whether o is this process.
func (o Owner) IsSelf() bool {
	return o.line == self().line
}

// SameKernel reports whether o ran on the kernel this process runs on:
// the same host name and the same, known, boot id. Kernel locks (flock,
// fcntl) that o held are then seen by this process, whatever pid
// namespace either is in; when o is gone, its kernel locks are gone too.
func (o Owner) SameKernel() bool {
	me := self()
	return o.boot != Unknown && o.boot == me.boot && o.host == me.host
}

// Stale reports whether a lock file that names o, last modified at
// mtime, is stale:
//
//   - o is this process: never (the caller knows its own locks);
//   - another process on this machine (same host name, boot id and pid
//     namespace): when no process with that pid and that start time
//     exists (a pid reused after a crash does not keep the lock); when
//     the start time cannot be checked, a live process with that pid
//     keeps it until the file is StaleAge old;
//   - the same host name but another boot id: when the file was last
//     touched before this machine booted, it was left by a crash before a
//     reboot, and is stale at once; otherwise it may be another machine
//     that has the same name (see the next case);
//   - another machine or pid namespace, whose processes cannot be
//     checked: when the file is StaleAge old. A holder touches its lock
//     files every minute, so the lock of a live one never gets that old.
func (o Owner) Stale(mtime time.Time) bool {
	if o.IsSelf() {
		return false
	}
	return stale(self(), o, mtime, time.Now())
}

// stale decides, for the process me, whether a lock file that names
// owner, another process, and was last modified at mtime, is stale at now
// (see Owner.Stale).
func stale(me, owner Owner, mtime, now time.Time) bool {
	age := now.Sub(mtime)
	switch {
	case owner.host == me.host && owner.boot == me.boot && owner.pidns == me.pidns:
		alive, sure := processAlive(owner.pid, owner.start)
		if !alive {
			return true
		}
		// Without the start time, a live process with that pid may be
		// another one; the lock of a live caddy-pop3 is fresh.
		return !sure && age > StaleAge
	case owner.host == me.host && owner.boot != me.boot && me.boot != Unknown:
		if booted, ok := bootTime(); ok && mtime.Before(booted) {
			return true // left before this machine restarted
		}
	}
	return age > StaleAge
}
