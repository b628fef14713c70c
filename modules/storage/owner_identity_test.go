package storage

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestProcessIdentityRoundTrip(t *testing.T) {
	line := ProcessIdentity()
	if !strings.HasPrefix(line, "caddy-pop3 pid=") || strings.ContainsAny(line, "\n") {
		t.Fatalf("ProcessIdentity() = %q", line)
	}
	o, ok := ParseOwner([]byte(line))
	if !ok {
		t.Fatalf("ParseOwner(%q) failed", line)
	}
	if !o.IsSelf() {
		t.Error("this process's identity is not IsSelf")
	}
	if o.Stale(time.Now().Add(-time.Hour)) {
		t.Error("this process's own lock is stale")
	}
	if _, ok := ParseOwner([]byte("12345\n")); ok {
		t.Error("a bare pid parsed as an identity")
	}
}

func TestOwnerStaleness(t *testing.T) {
	me := self()
	other := func(pid int, start, boot, pidns, host string) Owner {
		o, ok := ParseOwner([]byte(newIdentity(pid, start, boot, pidns, host).key))
		if !ok {
			t.Fatal("ParseOwner failed")
		}
		return o
	}
	fresh, old := time.Now(), time.Now().Add(-2*StaleLockAge)
	tests := []struct {
		name       string
		owner      Owner
		mtime      time.Time
		stale      bool
		sameKernel bool
	}{
		{"reused pid, same namespace", other(os.Getpid(), "1", me.boot, me.pidns, me.host), fresh, me.start != unknown, me.boot != unknown},
		{"other pid namespace, fresh", other(1, "1", me.boot, "pid:[1]", me.host), fresh, false, me.boot != unknown},
		{"other pid namespace, old", other(1, "1", me.boot, "pid:[1]", me.host), old, true, me.boot != unknown},
		{"other host, fresh", other(1, "1", "b", me.pidns, "elsewhere"), fresh, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.owner.Stale(tt.mtime); got != tt.stale {
				t.Errorf("Stale = %v, want %v", got, tt.stale)
			}
			if got := tt.owner.SameKernel(); got != tt.sameKernel {
				t.Errorf("SameKernel = %v, want %v", got, tt.sameKernel)
			}
			if tt.owner.IsSelf() {
				t.Error("IsSelf")
			}
		})
	}
}
