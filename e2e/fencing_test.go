//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fencingMessages is how many messages alice has in the fencing test;
// fencingWait bounds the wait for node A's lease (lease_time 2s in
// postgresCaddyfile) to lapse while it is paused.
const (
	fencingMessages = 8
	fencingWait     = 15 * time.Second
)

// TestPostgresFencingAcrossProcesses pauses a node (SIGSTOP) that holds
// alice's maildrop with every message marked deleted and no QUIT yet,
// until its lease lapses and a second node lets alice in. That second
// session retrieves and deletes message 1 and QUITs: its deletion
// applies. Then the paused node resumes and its client sends QUIT: the
// stale fencing token must delete nothing, and the answer says so
// (-ERR [IN-USE], not +OK). At the end every message but message 1 is
// stored, once, byte-identical.
//
// The second session deletes a message (rather than only reading) so
// that its QUIT releases the lease before the stale QUIT arrives: the
// mailbox is then unowned and unexpired, and only the fencing token —
// not the owner or the expiry — can tell the stale session apart.
func TestPostgresFencingAcrossProcesses(t *testing.T) {
	_, dsn := startMailDatabase(t)

	a := startPostgresNode(t, dsn)
	b := startPostgresNode(t, dsn)
	// Registered after a's own cleanup, so it runs first: a paused node
	// is resumed before it is stopped, whatever path the test ends on.
	paused := false
	resume := func() {
		if paused {
			if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT node A: %v", err)
			}
			paused = false
		}
	}
	t.Cleanup(resume)

	l := newLedger()
	for i := range fencingMessages {
		id, msg := l.newMessage(testUser, i)
		if code := runDeliver(t, a.config, string(msg)); code != 0 {
			t.Fatalf("caddy pop3 deliver: exit %d", code)
		}
		l.deliveredOK(id)
	}

	// Node A: every message retrieved and marked deleted, no QUIT yet.
	pa, err := dialCluster(a.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Close()
	if err := pa.login(testUser); err != nil {
		t.Fatalf("login on node A: %v", err)
	}
	ns, err := pa.uidl()
	if err != nil || len(ns) != fencingMessages {
		t.Fatalf("UIDL on node A: %v, %v; want %d messages", ns, err, fencingMessages)
	}
	for _, n := range ns {
		body, err := pa.retr(n)
		if err != nil {
			t.Fatalf("RETR %d on node A: %v", n, err)
		}
		l.served(testUser, body, false)
		if err := pa.OK(fmt.Sprintf("DELE %d", n)); err != nil {
			t.Fatal(err)
		}
	}

	// Node B refuses alice while node A holds the lease.
	if err := tryLogin(b.Addr); !isInUse(err) {
		t.Fatalf("login on node B while node A holds the maildrop: %v, want -ERR [IN-USE]", err)
	}

	// Pause node A: its lease is no longer renewed and lapses.
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused = true
	stopped := time.Now()
	var pb *clusterConn
	for deadline := stopped.Add(fencingWait); ; {
		pb, err = dialCluster(b.Addr, "")
		if err != nil {
			t.Fatal(err)
		}
		if err = pb.login(testUser); err == nil {
			break
		}
		pb.Cmd("QUIT")
		pb.Close()
		if !isInUse(err) {
			t.Fatalf("login on node B while node A is paused: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B still answers %v %v after node A was paused (lease_time 2s)", err, fencingWait)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer pb.Close()
	t.Logf("node B let alice in %v after node A was paused", time.Since(stopped).Round(100*time.Millisecond))

	// Node B: message 1 retrieved and deleted, with a QUIT.
	body, err := pb.retr(1)
	if err != nil {
		t.Fatalf("RETR 1 on node B: %v", err)
	}
	takenID, ok := l.served(testUser, body, false)
	if !ok {
		t.Fatalf("RETR 1 on node B gave a message that is not the inventory's")
	}
	if err := pb.OK("DELE 1"); err != nil {
		t.Fatal(err)
	}
	if r, err := pb.Cmd("QUIT"); err != nil || !strings.HasPrefix(r, fmt.Sprintf("+OK Logging out, %d messages left", fencingMessages-1)) {
		t.Fatalf("QUIT on node B: %q, %v", r, err)
	}
	l.quit([]string{takenID}, true)

	// Node A resumes; its client's QUIT comes with a stale token.
	resume()
	r, err := pa.Cmd("QUIT")
	if err != nil {
		t.Fatalf("QUIT on node A after it resumed: %v", err)
	}
	if !strings.HasPrefix(r, "-ERR [IN-USE]") || !strings.Contains(r, "no messages were deleted") {
		t.Errorf("QUIT on node A with a lapsed lease: %q, want -ERR [IN-USE] ... no messages were deleted", r)
	}

	// The inventory, read through node A (which must serve again).
	p, err := dialCluster(a.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.login(testUser); err != nil {
		t.Fatalf("final login on node A: %v", err)
	}
	if ns, err = p.uidl(); err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		body, err := p.retr(n)
		if err != nil {
			t.Fatalf("final RETR %d: %v", n, err)
		}
		l.served(testUser, body, true)
	}
	p.Cmd("QUIT")

	var stored, lost, undeleted int
	for id, e := range l.msgs {
		switch {
		case id == takenID && e.stored:
			undeleted++
			t.Errorf("%s is still stored after node B deleted it with a confirmed QUIT", id)
		case id != takenID && !e.stored:
			lost++
			t.Errorf("%s is gone: only node B's QUIT (message %s) may have deleted anything", id, takenID)
		case e.stored:
			stored++
		}
	}
	for _, pr := range l.problems {
		t.Error(pr)
	}
	t.Logf("inventory: %d delivered, %d others stored byte-identical, %d lost, node B's deletion undone %d, %d integrity problems",
		fencingMessages, stored, lost, undeleted, len(l.problems))
	if stored != fencingMessages-1 {
		t.Errorf("%d messages stored, want %d", stored, fencingMessages-1)
	}
}

// tryLogin opens a session on addr as alice, logs in and ends it; it
// returns the login's error.
func tryLogin(addr string) error {
	p, err := dialCluster(addr, "")
	if err != nil {
		return err
	}
	defer p.Close()
	err = p.login(testUser)
	p.Cmd("QUIT")
	return err
}
