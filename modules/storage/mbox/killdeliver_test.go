//go:build unix

package mbox

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// startDeliverer starts a delivery of msg to alice's spool under dir in
// another process (this test binary, see TestHelperDeliverer), which stops
// at the given stage of appendRecord ("" for none) and says so. It
// returns once the process is about to deliver (or has stopped).
func startDeliverer(t *testing.T, dir string, msg []byte, stopAt string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDeliverer$")
	cmd.Env = append(os.Environ(), "MBOX_TEST_DELIVER="+dir, "MBOX_TEST_DELIVER_STOP="+stopAt)
	cmd.Stdin = bytes.NewReader(msg)
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
	want := "delivering\n"
	if stopAt != "" {
		want = stopAt + "\n"
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != want {
		t.Fatalf("deliverer: %q, %v; want %q", line, err, want)
	}
	return cmd
}

// TestHelperDeliverer is not a test: run by startDeliverer, it delivers
// its stdin to alice under MBOX_TEST_DELIVER and, with
// MBOX_TEST_DELIVER_STOP, stops at that stage of the append until killed.
func TestHelperDeliverer(t *testing.T) {
	dir := os.Getenv("MBOX_TEST_DELIVER")
	if dir == "" {
		t.Skip("helper process for startDeliverer")
	}
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		t.Fatal(err)
	}
	m := &Mbox{Path: filepath.Join(dir, storage.PlaceholderUser)}
	if stop := os.Getenv("MBOX_TEST_DELIVER_STOP"); stop != "" {
		appendStage = func(stage string) {
			if stage == stop {
				os.Stdout.WriteString(stage + "\n")
				select {} // until killed
			}
		}
	} else {
		os.Stdout.WriteString("delivering\n")
	}
	if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
}

// TestKilledDeliveries SIGKILLs deliveries of large messages, at random
// moments and at fixed stages of the append, as an MTA's timeout or the
// OOM killer would; after every kill the MTA retries, and every third time
// an MTA that locks with fcntl only appends a message of its own before
// the next session (the kernel freed the dead delivery's locks). No
// partial message may ever be served, and each message must be there
// exactly once (twice only when the killed delivery had completed).
func TestKilledDeliveries(t *testing.T) {
	const kills = 12
	const size = 1 << 20
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	want := inventory{}
	allowDup := map[string]bool{}
	var counts struct{ partial, complete, none int }
	stages := []string{"", "reserved", "written"}
	for i := range kills {
		msg := numbered("big", i, size)
		want.add(t, msg)
		stop := stages[i%len(stages)]
		cmd := startDeliverer(t, dir, msg, stop)
		if stop == "" {
			time.Sleep(time.Duration(rand.N(40)) * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		if appendState(t, spool) == "partial" {
			counts.partial++
		}
		if i%3 == 2 {
			other := numbered("fcntl-mta", i, 500)
			want.add(t, other)
			appendFcntlOnly(t, spool, mboxRecord(other))
		}
		// The next session removes what is partial; a delivery that
		// completed before the kill is there, whole.
		_, served := contents(t, m, alice)
		copies := 0
		for _, b := range served {
			if bytes.Equal(b, msg) {
				copies++
			}
		}
		switch copies {
		case 0:
			counts.none++
		case 1:
			counts.complete++
			allowDup[messageID(msg)] = true
		default:
			t.Fatalf("kill %d: %d copies after the kill", i, copies)
		}
		if a := check(want, served, allowDup); a.wrong+a.corrupted+a.duplicated > 0 {
			a.expectClean(t)
			t.FailNow()
		}
		// The MTA retries.
		if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
			t.Fatalf("retry %d: %v", i, err)
		}
	}
	a := auditMaildrop(t, m, alice, want, allowDup)
	t.Logf("%d deliveries of %d MiB SIGKILLed: %d left a partial record (cut away before any session), %d had completed (kept; the retry made a second copy), %d left no message after the repair; then: %d lost, %d duplicated, %d corrupted, %d served wrongly",
		kills, size>>20, counts.partial, counts.complete, counts.none, a.lost, a.duplicated, a.corrupted, a.wrong)
	a.expectClean(t)
	if counts.partial == 0 {
		t.Error("no kill left a partial record: the test did not test the repair")
	}
}

// appendState tells what a killed delivery left: "partial" (its space
// reserved and not all written), "complete" (written, the note still
// there) or "" (nothing).
func appendState(t *testing.T, spool string) string {
	t.Helper()
	n, err := readAppendNote(spool)
	if err != nil || n == nil {
		return ""
	}
	f, err := os.Open(spool)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if mine, err := n.isAt(f, n.offset, st.Size()); err != nil || !mine {
		return ""
	}
	if ok, err := n.completeAt(f, n.offset); err != nil || ok {
		return "complete"
	}
	return "partial"
}

// appendFcntlOnly appends rec to spool as an MTA that locks with fcntl
// only (Dovecot's LDA configured so, some procmail setups).
func appendFcntlOnly(t *testing.T, spool string, rec []byte) {
	t.Helper()
	f, err := os.OpenFile(spool, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}); err != nil {
		t.Fatal(err)
	}
	// It writes after a blank line, as mbox requires, if the spool
	// does not end with one.
	st, _ := f.Stat()
	if st.Size() > 0 {
		b := make([]byte, 2)
		n, _ := f.ReadAt(b, max(0, st.Size()-2))
		if !bytes.HasSuffix(b[:n], []byte("\n\n")) {
			rec = append([]byte("\n"), rec...)
		}
	}
	if _, err := f.Write(rec); err != nil {
		t.Fatal(err)
	}
}
