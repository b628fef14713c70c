package lockowner

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestProcessIdentityRoundTrip(t *testing.T) {
	line := Self().Line()
	if !strings.HasPrefix(line, "caddy-pop3 pid=") || strings.ContainsAny(line, "\n") {
		t.Fatalf("Self().Line() = %q", line)
	}
	o, ok := ParseLine([]byte(line))
	if !ok {
		t.Fatalf("ParseLine(%q) failed", line)
	}
	if !o.IsSelf() {
		t.Error("this process's identity is not IsSelf")
	}
	if o.Stale(time.Now().Add(-time.Hour)) {
		t.Error("this process's own lock is stale")
	}
	if _, ok := ParseLine([]byte("12345\n")); ok {
		t.Error("a bare pid parsed as an identity")
	}
}

func TestOwnerStaleness(t *testing.T) {
	me := self()
	other := func(pid int, start, boot, pidns, host string) Owner {
		o, ok := ParseLine([]byte(newOwner(pid, start, boot, pidns, host).line))
		if !ok {
			t.Fatal("ParseLine failed")
		}
		return o
	}
	fresh, old := time.Now(), time.Now().Add(-2*StaleAge)
	tests := []struct {
		name       string
		owner      Owner
		mtime      time.Time
		stale      bool
		sameKernel bool
	}{
		{"reused pid, same namespace", other(os.Getpid(), "1", me.boot, me.pidns, me.host), fresh, me.start != Unknown, me.boot != Unknown},
		{"other pid namespace, fresh", other(1, "1", me.boot, "pid:[1]", me.host), fresh, false, me.boot != Unknown},
		{"other pid namespace, old", other(1, "1", me.boot, "pid:[1]", me.host), old, true, me.boot != Unknown},
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

func TestParseOwner(t *testing.T) {
	tests := []struct {
		line  string
		ok    bool
		pid   int
		host  string
		token uint64
	}{
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=pid:[1] host=h lock=5\n", ok: true, pid: 42, host: "h", token: 5},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=pid:[1] host=h\n", ok: true, pid: 42, host: "h"},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=pid:[1] host=h lock=18446744073709551615" + strings.Repeat(" ", 150) + "\n", ok: true, pid: 42, host: "h", token: 1<<64 - 1},
		{line: "caddy-pop3 host=h pidns=- boot=- start=- lock=3 pid=42 future=x\n", ok: true, pid: 42, host: "h", token: 3},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h lock=-1\n", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h lock=x\n", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h lock=\n", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h   ", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h\r\n", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n host=h\nmore\n", ok: false},
		{line: "caddy-pop3 pid=0 start=7 boot=b pidns=n host=h\n", ok: false},
		{line: "caddy-pop3 pid=-1 start=7 boot=b pidns=n host=h\n", ok: false},
		{line: "caddy-pop3 pid=x start=7 boot=b pidns=n host=h\n", ok: false},
		{line: "caddy-pop3 pid=42 start=7 boot=b pidns=n\n", ok: false},
		{line: "caddy-pop3 pid=42 start= boot=b pidns=n host=h\n", ok: false},
		{line: "caddy-pop3 pid=42 start boot=b pidns=n host=h\n", ok: false},
		{line: "dovecot pid=42 start=7 boot=b pidns=n host=h\n", ok: false},
		{line: strings.Repeat(" ", 255) + "\n", ok: false}, // an owner lock's free record
		{line: "\n", ok: false},
		{line: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.line), func(t *testing.T) {
			id, token, ok := Parse([]byte(tt.line))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && (id.pid != tt.pid || id.host != tt.host || token != tt.token) {
				t.Errorf("pid %d host %q lock %d, want %d %q %d", id.pid, id.host, token, tt.pid, tt.host, tt.token)
			}
		})
	}
}

func TestIdentityLine(t *testing.T) {
	id := newOwner(7, "", "b\n", " pid:[1] ", "my host\x00é")
	want := "caddy-pop3 pid=7 start=- boot=b pidns=pid:[1] host=my_host___ lock=12\n"
	line := string(id.AppendLine([]byte("x"), 12))
	if got := line[1:] + "\n"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	back, token, ok := Parse([]byte(want))
	if !ok || back.line != id.line || token != 12 {
		t.Errorf("%q parsed back as %+v, %d, %v", want, back, token, ok)
	}
	if self().pid != os.Getpid() || self().host == "" {
		t.Errorf("self() = %+v", self())
	}
}
