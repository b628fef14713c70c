//go:build linux

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
)

// requireRootFor skips a test that needs root (namespaces, mounts), or
// fails it when CI=true, where it must run.
func requireRootFor(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s needs root, and CI=true", why)
	}
	t.Skipf("%s needs root", why)
}

// mboxConfig writes the Caddyfile of a server whose pop3 handler keeps
// mail in mbox spools under dir/mail, with the given lock_timeout, and
// returns its path and the POP3 address.
func mboxConfig(t *testing.T, dir, lockTimeout string) (config, addr string) {
	t.Helper()
	adminPort, pop3Port := freePort(t), freePort(t)
	root := filepath.Join(dir, "mail")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	storage := "storage mbox {\n\t\t\t\t\t\tpath " + root + "/{pop3.user}\n\t\t\t\t\t\tlock_timeout " + lockTimeout + "\n\t\t\t\t\t}"
	auth := "auth accounts bcrypt {\n\t\t\t\t\t\t" + testUser + " " + testPasswordHash(t) + "\n\t\t\t\t\t}"
	config = filepath.Join(dir, "Caddyfile")
	text := fmt.Sprintf(storageCaddyfile, adminPort, pop3Port, storage, auth)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return config, fmt.Sprintf("127.0.0.1:%d", pop3Port)
}

// pid1Server is `caddy run` as PID 1 of a new pid namespace, as in a
// container: `unshare --pid --fork --mount-proc --kill-child caddy run`.
type pid1Server struct {
	cmd    *exec.Cmd // unshare
	exited chan struct{}
	out    *lockedBuffer
}

// startPID1 starts the server and waits until it greets on addr.
func startPID1(t *testing.T, dir, config, addr string) *pid1Server {
	t.Helper()
	unshare := requireTool(t, "unshare", "util-linux")
	s := &pid1Server{out: &lockedBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(unshare, "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL", caddyBin, "run", "--config", config)
	s.cmd.Env = caddyEnv(dir)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.kill(t)
		if t.Failed() {
			t.Logf("caddy (PID 1) output:\n%s", s.out.String())
		}
	})
	probe := &server{Addr: addr, cmd: s.cmd, exited: s.exited}
	if err := probe.waitReady(); err != nil {
		t.Fatalf("caddy as PID 1: %v\n%s", err, s.out.String())
	}
	if pid := s.caddyPID(); pid == 0 {
		t.Fatalf("cannot find caddy under unshare (pid %d)", s.cmd.Process.Pid)
	} else if ns := nsPID(t, pid); ns != "1" {
		t.Fatalf("caddy is pid %q in its namespace, want 1", ns)
	}
	return s
}

// caddyPID returns the host pid of caddy, the child of unshare, or 0.
func (s *pid1Server) caddyPID() int {
	pid := strconv.Itoa(s.cmd.Process.Pid)
	b, err := os.ReadFile("/proc/" + pid + "/task/" + pid + "/children")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// nsPID returns the pid of the host process pid in its own namespace.
func nsPID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			return f[len(f)-1]
		}
	}
	return ""
}

// kill SIGKILLs caddy (and so its namespace) and waits for unshare.
func (s *pid1Server) kill(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
		return
	default:
	}
	if pid := s.caddyPID(); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	} else {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// mboxInventory is what a test put into alice's spool: the sha256 of each
// message as a client must receive it (LF line endings), by Message-ID.
type mboxInventory map[string]string

// sum returns the hex sha256 of s.
func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// fetchAll logs in and retrieves every message, then ends the session
// with QUIT (deleting nothing) and returns the messages by Message-ID.
// Any message without a Message-ID, or served twice (unless allowDup has
// it: a delivery that completed although it was killed, and its retry),
// fails the test.
func fetchAll(t *testing.T, addr string, allowDup map[string]bool) map[string]string {
	t.Helper()
	p := dialPOP3(t, addr)
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("PASS: %q", r)
	}
	stat := strings.Fields(p.Cmd("STAT"))
	n, _ := strconv.Atoi(stat[1])
	got := map[string]string{}
	count := map[string]int{}
	for i := 1; i <= n; i++ {
		msg, err := retrieve(p, i)
		if err != nil {
			t.Fatal(err)
		}
		id := ""
		for line := range strings.Lines(msg) {
			if v, ok := strings.CutPrefix(line, "Message-ID: "); ok {
				id = strings.TrimSpace(v)
				break
			}
		}
		if id == "" {
			t.Errorf("served a message without a Message-ID (not one the test delivered): %.200q", msg)
			continue
		}
		count[id]++
		if count[id] > 1 && !(count[id] == 2 && allowDup[id] && got[id] == sum(msg)) {
			t.Errorf("%s served %d times", id, count[id])
		}
		got[id] = sum(msg)
	}
	p.Cmd("QUIT")
	return got
}

// expectInventory fails the test unless got holds exactly want.
func expectInventory(t *testing.T, got map[string]string, want mboxInventory) {
	t.Helper()
	lost, corrupted, extra := 0, 0, 0
	for id, s := range want {
		switch g, ok := got[id]; {
		case !ok:
			lost++
			t.Errorf("%s lost", id)
		case g != s:
			corrupted++
			t.Errorf("%s served with other content", id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra++
			t.Errorf("%s served, but it was deleted or never delivered", id)
		}
	}
	t.Logf("inventory of %d messages: %d lost, %d corrupted, %d served wrongly", len(want), lost, corrupted, extra)
}

// testMessage is the i-th message of a series, with a Message-ID.
func testMessage(series string, i int) string {
	return fmt.Sprintf("Message-ID: <%s-%d@test>\nSubject: %s %d\n\nbody of %s %d\nFrom the start of a line\n", series, i, series, i, series, i)
}

// TestMboxPIDReuse is a server in a container: Caddy is PID 1 of its pid
// namespace, is SIGKILLed during a session (its dotlock stays behind,
// naming pid 1), and comes back as PID 1 again, where the dead holder's
// pid is alive. The next login must not get [IN-USE], and `caddy pop3
// deliver` must not wait out its lock_timeout (exit 75), after either
// kill: the dotlock names its owner fully, and its flock died with it.
func TestMboxPIDReuse(t *testing.T) {
	t.Parallel()
	requireRootFor(t, "running caddy as PID 1 of a pid namespace (unshare --pid)")
	dir := t.TempDir()
	config, addr := mboxConfig(t, dir, "2s")
	spool := filepath.Join(dir, "mail", testUser)
	want := mboxInventory{}
	deliver := func(msg string) {
		t.Helper()
		if code, stderr := deliverCmd(t, dir, msg, "--config", config, "--user", testUser); code != 0 {
			t.Fatalf("caddy pop3 deliver: exit %d\n%s", code, stderr)
		}
		want[strings.TrimPrefix(strings.SplitN(msg, "\n", 2)[0], "Message-ID: ")] = sum(msg)
	}
	for i := range 3 {
		deliver(testMessage("before", i))
	}

	// First life: a session, then SIGKILL.
	a := startPID1(t, dir, config, addr)
	p := dialPOP3(t, addr)
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("PASS: %q", r)
	}
	p.Cmd("DELE 1") // never committed: the session dies
	a.kill(t)
	lock, err := os.ReadFile(spool + ".lock")
	if err != nil {
		t.Fatalf("the killed server left no dotlock (the test needs one): %v", err)
	}
	if !strings.Contains(string(lock), " pid=1 ") {
		t.Fatalf("the dotlock does not name pid 1: %q", lock)
	}

	// Second life, PID 1 again: the login must get the maildrop at once.
	b := startPID1(t, dir, config, addr)
	q := dialPOP3(t, addr)
	if r := q.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("login after the restart as PID 1: %q, want +OK (the dead server's dotlock must be taken over)", r)
	}
	if r := q.Cmd("DELE 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("DELE 1: %q", r)
	}
	if r := q.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %q", r)
	}
	delete(want, "<before-0@test>")

	// Killed again during a session: a delivery from outside the
	// namespace must not wait for the dead server's dotlock.
	r := dialPOP3(t, addr)
	if resp := r.LoginReply(testUser, testPassword); !strings.HasPrefix(resp, "+OK") {
		t.Fatalf("PASS: %q", resp)
	}
	b.kill(t)
	deliver(testMessage("after-kill", 0))

	startPID1(t, dir, config, addr)
	expectInventory(t, fetchAll(t, addr, nil), want)
}

// topID returns the Message-ID of message n (TOP n 0).
func topID(t *testing.T, p *pop3test.Client, n int) string {
	t.Helper()
	if r := p.Cmd("TOP " + strconv.Itoa(n) + " 0"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("TOP %d 0: %q", n, r)
	}
	id := ""
	for _, l := range p.MultiLines() {
		if v, ok := strings.CutPrefix(l, "Message-ID: "); ok {
			id = v
		}
	}
	return id
}

// plainServer is `caddy run` on a config, killed with SIGKILL.
type plainServer struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *lockedBuffer
}

// startPlain starts caddy on config and waits until it greets on addr.
func startPlain(t *testing.T, dir, config, addr string) *plainServer {
	t.Helper()
	s := &plainServer{out: &lockedBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(caddyBin, "run", "--config", config)
	s.cmd.Env = caddyEnv(dir)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("caddy output:\n%s", s.out.String())
		}
	})
	probe := &server{Addr: addr, cmd: s.cmd, exited: s.exited}
	if err := probe.waitReady(); err != nil {
		t.Fatalf("caddy: %v\n%s", err, s.out.String())
	}
	return s
}

// kill SIGKILLs caddy and waits for it.
func (s *plainServer) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// bigMessage is a test message of about size octets.
func bigMessage(series string, i, size int) string {
	var b strings.Builder
	b.WriteString(testMessage(series, i))
	line := fmt.Sprintf("%s %d: the quick brown fox jumps over the lazy dog\n", series, i)
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.String()
}

// TestMboxCrashLoops SIGKILLs Caddy right after QUIT, while it commits
// deletions from a spool of large messages, and `caddy pop3 deliver`
// during deliveries of large messages, in bounded loops, keeping an
// inventory: a commit happens whole or not at all, no message is lost,
// duplicated (beyond the retry of a delivery that had completed) or
// corrupted, and nothing deleted or partial is served.
func TestMboxCrashLoops(t *testing.T) {
	t.Parallel()
	rounds := 8
	slow := 1 // how much slower a delivery of the race-enabled binary is
	if raceEnabled {
		rounds, slow = 4, 4
	}
	dir := t.TempDir()
	config, addr := mboxConfig(t, dir, "10s")
	want := mboxInventory{}
	deliver := func(msg string) {
		t.Helper()
		if code, stderr := deliverCmd(t, dir, msg, "--config", config, "--user", testUser); code != 0 {
			t.Fatalf("caddy pop3 deliver: exit %d\n%s", code, stderr)
		}
		want[strings.TrimPrefix(strings.SplitN(msg, "\n", 2)[0], "Message-ID: ")] = sum(msg)
	}

	// Commits killed.
	var committed, notCommitted, inCommit int
	for i := range rounds {
		for k := range 3 {
			deliver(bigMessage(fmt.Sprintf("commit-%d", i), k, 1<<20))
		}
		s := startPlain(t, dir, config, addr)
		p := dialPOP3(t, addr)
		if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("PASS: %q", r)
		}
		// Delete the spool's first message (the whole spool is then
		// rewritten) and this round's last.
		stat := strings.Fields(p.Cmd("STAT"))
		n, _ := strconv.Atoi(stat[1])
		gone := []string{topID(t, p, 1), topID(t, p, n)}
		for _, k := range []int{1, n} {
			if r := p.Cmd("DELE " + strconv.Itoa(k)); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("DELE %d: %q", k, r)
			}
		}
		p.Send("QUIT\r\n")
		time.Sleep(time.Duration(i%4) * 3 * time.Millisecond)
		s.kill()
		if _, err := os.Stat(filepath.Join(dir, "mail", "."+testUser+".caddy-pop3.journal")); err == nil {
			inCommit++ // killed between the journal and its removal
		}

		startPlain(t, dir, config, addr)
		got := fetchAll(t, addr, nil)
		_, in0 := got[gone[0]]
		_, in2 := got[gone[1]]
		switch {
		case !in0 && !in2:
			committed++
			delete(want, gone[0])
			delete(want, gone[1])
		case in0 && in2:
			notCommitted++
		default:
			t.Errorf("round %d: a killed commit deleted one of its two messages", i)
		}
		expectInventory(t, got, want)
		if t.Failed() {
			t.FailNow()
		}
	}

	// Deliveries killed; caddy is not running (as with Postfix
	// delivering while the POP3 server is down or idle).
	var partialOrNone, completed, unfinished int
	allowDup := map[string]bool{}
	for i := range rounds {
		msg := bigMessage("deliver", i, 8<<20)
		cmd, _ := deliverProcess(t, dir, msg, "--config", config, "--user", testUser)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(slow*(30+40*i)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if _, nerr := os.Stat(filepath.Join(dir, "mail", "."+testUser+".caddy-pop3.append")); nerr == nil {
			unfinished++ // killed inside the append: its note is there
		}
		id := fmt.Sprintf("<deliver-%d@test>", i)
		startPlain(t, dir, config, addr)
		got := fetchAll(t, addr, allowDup)
		if s, ok := got[id]; ok {
			if s != sum(msg) {
				t.Fatalf("round %d: the killed delivery is served partial (%v)", i, err)
			}
			completed++
			allowDup[id] = true
		} else {
			partialOrNone++
		}
		// The MTA retries (as it must: the delivery was killed).
		deliver(msg)
	}
	startPlain(t, dir, config, addr)
	got := fetchAll(t, addr, allowDup)
	expectInventory(t, got, want)
	t.Logf("%d commits SIGKILLed after QUIT: %d inside the rewrite (finished from the journal), %d had committed, %d had not (none half); %d deliveries of 8 MiB SIGKILLed: %d inside the append (repaired at the next lock), %d had completed (the retry made a second copy), %d left nothing served",
		rounds, inCommit, committed, notCommitted, rounds, unfinished, completed, partialOrNone)
}
