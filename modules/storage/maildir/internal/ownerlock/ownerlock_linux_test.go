package ownerlock

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/lockowner"
)

// procStat is what these tests need of /proc/<pid>/stat.
type procStat struct {
	state byte   // field 3: R, S, D, Z (zombie), X (dead), ...
	start string // field 22: start time in clock ticks after boot
}

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid string) (procStat, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The fields after the command name start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc/" + pid + "/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("malformed /proc/" + pid + "/stat")
	}
	return procStat{state: f[0][0], start: f[19]}, nil
}

// procStart returns the start time of process pid, from /proc.
func procStart(t *testing.T, pid int) string {
	t.Helper()
	st, err := readProcStat(strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	return st.start
}

// bootTime returns when this machine booted (btime in /proc/stat).
func bootTime() (time.Time, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(sec, 0), true
		}
	}
	return time.Time{}, false
}

func TestOwnerLockSameMachine(t *testing.T) {
	me := selfIdent(t)
	if me.start == lockowner.Unknown || me.boot == lockowner.Unknown || me.pidns == lockowner.Unknown {
		t.Skipf("/proc does not tell this process's identity: %q", me.key())
	}
	// A process that has exited (and been reaped).
	dead := startHelper(t, "wait")
	deadPID, deadStart := dead.cmd.Process.Pid, procStart(t, dead.cmd.Process.Pid)
	dead.stop(t)
	// A process that runs.
	live := startHelper(t, "wait")
	livePID, liveStart := live.cmd.Process.Pid, procStart(t, live.cmd.Process.Pid)
	// A zombie: it has exited, nobody reaped it yet.
	zombie := startHelper(t, "wait")
	zombiePID, zombieStart := zombie.cmd.Process.Pid, procStart(t, zombie.cmd.Process.Pid)
	_ = zombie.stdin.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if st, err := readProcStat(strconv.Itoa(zombiePID)); err == nil && st.state == 'Z' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper did not become a zombie")
		}
		time.Sleep(5 * time.Millisecond)
	}
	booted, ok := bootTime()
	if !ok {
		t.Fatal("no boot time in /proc/stat")
	}

	// As its holder writes it: a padded record.
	here := func(pid int, start string) string {
		return ident{pid, start, me.boot, me.pidns, me.host}.record(1)
	}
	fresh := time.Now().Add(-time.Minute)
	old := time.Now().Add(-StaleLockAge - time.Minute)
	tests := []struct {
		name    string
		content string
		mtime   time.Time
		held    bool
	}{
		{name: "live process", content: here(livePID, liveStart), mtime: fresh, held: true},
		{name: "live process, old file", content: here(livePID, liveStart), mtime: old, held: true},
		{name: "dead process", content: here(deadPID, deadStart), mtime: fresh},
		{name: "zombie", content: here(zombiePID, zombieStart), mtime: fresh},
		{name: "pid reused", content: here(livePID, liveStart+"0"), mtime: fresh},
		{name: "this pid, another start", content: here(me.pid, me.start+"0"), mtime: fresh},
		{name: "live pid, start unknown", content: here(livePID, lockowner.Unknown), mtime: fresh, held: true},
		{name: "live pid, start unknown, old file", content: here(livePID, lockowner.Unknown), mtime: old},
		{name: "before a reboot", content: ident{livePID, liveStart, "old-boot", me.pidns, me.host}.line(1), mtime: booted.Add(-time.Second)},
		{name: "same name, another machine", content: ident{livePID, liveStart, "other-boot", me.pidns, me.host}.line(1), mtime: fresh, held: true},
		{name: "same name, another machine, old file", content: ident{livePID, liveStart, "other-boot", me.pidns, me.host}.line(1), mtime: old},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOwner(t, tt.content, tt.mtime, tt.held)
		})
	}
}
