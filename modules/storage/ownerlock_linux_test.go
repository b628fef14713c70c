package storage

import (
	"strconv"
	"testing"
	"time"
)

// procStart returns the start time of process pid, from /proc.
func procStart(t *testing.T, pid int) string {
	t.Helper()
	st, err := readProcStat(strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	return st.start
}

func TestOwnerLockSameMachine(t *testing.T) {
	me := self()
	if me.start == unknown || me.boot == unknown || me.pidns == unknown {
		t.Skipf("/proc does not tell this process's identity: %q", me.key)
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
		return string(newIdentity(pid, start, me.boot, me.pidns, me.host).appendRecord(nil, 1))
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
		{name: "live pid, start unknown", content: here(livePID, unknown), mtime: fresh, held: true},
		{name: "live pid, start unknown, old file", content: here(livePID, unknown), mtime: old},
		{name: "before a reboot", content: newIdentity(livePID, liveStart, "old-boot", me.pidns, me.host).line(1), mtime: booted.Add(-time.Second)},
		{name: "same name, another machine", content: newIdentity(livePID, liveStart, "other-boot", me.pidns, me.host).line(1), mtime: fresh, held: true},
		{name: "same name, another machine, old file", content: newIdentity(livePID, liveStart, "other-boot", me.pidns, me.host).line(1), mtime: old},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOwner(t, tt.content, tt.mtime, tt.held)
		})
	}
}
