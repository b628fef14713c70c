//go:build unix

package mbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// startCommitter runs, in another process (this test binary, see
// TestHelperCommitter), a session of alice's spool under dir that deletes
// the messages at the given indexes and stops at the given stage of its
// commit (see commitStage) until it is killed. It returns once the process
// has stopped there.
func startCommitter(t *testing.T, dir, stage string, deleted []int) *exec.Cmd {
	t.Helper()
	var idx []string
	for _, i := range deleted {
		idx = append(idx, strconv.Itoa(i))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCommitter$")
	cmd.Env = append(os.Environ(), "MBOX_TEST_COMMIT="+dir, "MBOX_TEST_COMMIT_STAGE="+stage, "MBOX_TEST_COMMIT_DELETE="+strings.Join(idx, ","))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != stage+"\n" {
		t.Fatalf("committer: %q, %v; want %q", line, err, stage)
	}
	return cmd
}

// TestHelperCommitter is not a test: see startCommitter.
func TestHelperCommitter(t *testing.T) {
	dir := os.Getenv("MBOX_TEST_COMMIT")
	if dir == "" {
		t.Skip("helper process for startCommitter")
	}
	stop := os.Getenv("MBOX_TEST_COMMIT_STAGE")
	commitStage = func(stage string) {
		if stage == stop {
			os.Stdout.WriteString(stage + "\n")
			select {} // until killed
		}
	}
	var del []int
	for _, f := range strings.Split(os.Getenv("MBOX_TEST_COMMIT_DELETE"), ",") {
		i, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		del = append(del, i)
	}
	m := &Mbox{Path: filepath.Join(dir, storage.PlaceholderUser)}
	md, err := m.Open(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	_ = md.Commit(context.Background(), del)
	t.Fatal("the commit did not stop at stage " + stop)
}

// TestKilledCommits SIGKILLs a session's process at every stage of its
// commit, several times each; every other time an MTA that locks with
// fcntl only appends right after the kill (the kernel freed the dead
// process's locks), and a delivery of this server follows (the dotlock
// of the dead process is taken over at once). The next session finishes
// the commit or finds it undone, whole: the deleted messages are all gone
// or all there, and nothing else is lost, duplicated or damaged.
func TestKilledCommits(t *testing.T) {
	stages := []string{"temporary", "journal", "written", "truncated"}
	const perStage = 3
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	want := inventory{}
	var msgs [][]byte
	n := 0
	add := func() {
		msg := numbered("commit", n, 20000+n*100)
		n++
		if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		want.add(t, msg)
		msgs = append(msgs, msg)
	}
	for range 4 {
		add()
	}
	var done, undone int
	for round := range len(stages) * perStage {
		stage := stages[round%len(stages)]
		add()
		add()
		// Delete the first message and the second to last: a rewrite
		// of the whole spool.
		_, served := contents(t, m, alice)
		del := []int{0, len(served) - 2}
		ids := []string{messageID(served[del[0]]), messageID(served[del[1]])}
		cmd := startCommitter(t, dir, stage, del)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if round%2 == 1 {
			other := numbered(fmt.Sprintf("late-%s", stage), round, 300)
			want.add(t, other)
			appendFcntlOnly(t, spool, mboxRecord(other))
			add()
		}
		_, served = contents(t, m, alice)
		a := check(want, served, nil)
		gone := 0
		for _, id := range ids {
			for _, d := range a.details {
				if d == id+" lost" {
					gone++
				}
			}
		}
		switch gone {
		case 2:
			done++
			delete(want, ids[0])
			delete(want, ids[1])
		case 0:
			undone++
		default:
			t.Fatalf("round %d (killed at %q): the commit deleted one of its two messages", round, stage)
		}
		if a := check(want, served, nil); a.lost+a.duplicated+a.corrupted+a.wrong > 0 {
			t.Errorf("round %d (killed at %q):", round, stage)
			a.expectClean(t)
			t.FailNow()
		}
		for _, p := range []string{journalPath(spool), tempPath(spool)} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("round %d: %s left after the next session", round, p)
			}
		}
	}
	t.Logf("%d commits SIGKILLed (%d at each of %v): %d finished by the next session, %d found undone; 0 lost, 0 duplicated, 0 corrupted, 0 served wrongly",
		len(stages)*perStage, perStage, stages, done, undone)
}
