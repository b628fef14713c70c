//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dovecotLMTPConf is a private Dovecot 2.3 LMTP server (own base_dir,
// state, log and port) delivering into maildirs owned by an unprivileged
// user, with Dovecot's defaults otherwise (mail_fsync = optimized: a
// delivery is fsynced before its 250). Verbs: the work directory, the mail
// user's uid, its name, its group, the port.
const dovecotLMTPConf = `instance_name = dovecot-lmtp-bench
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = %[2]d
last_valid_uid = 0
auth_username_format = %%Ln
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=%[3]s gid=%[4]s home=%[1]s/mail/%%n
}
mail_location = maildir:~/Maildir
lmtp_save_to_detail_mailbox = no
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[5]d
  }
  process_min_avail = 4
}
`

// startDovecotLMTP starts a private Dovecot LMTP server and returns its
// address and mail root; it is stopped when the test ends.
func startDovecotLMTP(t *testing.T) (addr, mailRoot string) {
	t.Helper()
	dovecot := requireTool(t, "dovecot", "dovecot-core")
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		t.Fatalf("Dovecot's LMTP server is not installed (apt-get install dovecot-lmtpd): %v", err)
	}
	mailUser, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	group, err := user.LookupGroupId(mailUser.Gid)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(mailUser.Uid)
	gid, _ := strconv.Atoi(mailUser.Gid)
	dir, err := os.MkdirTemp("", "lmtp-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mailRoot = filepath.Join(dir, "mail")
	if err := os.MkdirAll(mailRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mailRoot, uid, gid); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "dovecot.conf")
	text := fmt.Sprintf(dovecotLMTPConf, dir, uid, mailUser.Username, group.Name, port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// In the foreground (-F), as this test's child: stopped by its pid.
	cmd := exec.Command(dovecot, "-F", "-c", conf)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot output:\n%s\nlog:\n%s", out.String(), b)
		}
	})
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(startTimeout)
	for probeLMTP(addr) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Dovecot's LMTP server at %s never greeted", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return addr, mailRoot
}

// lmtpLoad delivers count messages of size octets over conns concurrent
// LMTP sessions, one recipient each (worker i delivers to u<i>@example.com),
// and returns the elapsed time and the bodies sent by Message-ID.
func lmtpLoad(t *testing.T, addr, run string, conns, count, size int) (time.Duration, map[string][]byte) {
	t.Helper()
	sent := map[string][]byte{}
	msgs := make([][][]byte, conns)
	for i := range count {
		w := i % conns
		id := fmt.Sprintf("<%s-%d@bench.test>", run, i)
		var b bytes.Buffer
		fmt.Fprintf(&b, "Message-ID: %s\r\nSubject: bench %d\r\n\r\n", id, i)
		for line := 0; b.Len() < size; line++ {
			fmt.Fprintf(&b, "%08d the quick brown fox jumps over the lazy dog, again and again\r\n", line)
		}
		msgs[w] = append(msgs[w], b.Bytes())
		sent[id] = b.Bytes()
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := time.Now()
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := lmtpSession(addr, fmt.Sprintf("u%d@example.com", w), msgs[w]); err != nil {
				errs <- fmt.Errorf("worker %d: %v", w, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return elapsed, sent
}

// lmtpSession delivers msgs to rcpt in one LMTP session, pipelining MAIL,
// RCPT and DATA, and checks every reply.
func lmtpSession(addr, rcpt string, msgs [][]byte) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	reply := func(want string) error {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if len(line) >= 4 && line[3] == '-' {
				continue
			}
			if !strings.HasPrefix(line, want) {
				return fmt.Errorf("reply %q, want %s", line, want)
			}
			return nil
		}
	}
	if err := reply("220"); err != nil {
		return err
	}
	fmt.Fprintf(c, "LHLO bench.test\r\n")
	if err := reply("250"); err != nil {
		return err
	}
	for _, m := range msgs {
		fmt.Fprintf(c, "MAIL FROM:<bench@example.net>\r\nRCPT TO:<%s>\r\nDATA\r\n", rcpt)
		for _, want := range []string{"250", "250", "354"} {
			if err := reply(want); err != nil {
				return err
			}
		}
		if _, err := c.Write(append(m, ".\r\n"...)); err != nil {
			return err
		}
		if err := reply("250"); err != nil {
			return err
		}
	}
	fmt.Fprintf(c, "QUIT\r\n")
	return reply("221")
}

// checkDelivered reads every message in the maildirs under root and checks
// each sent message is there once with its body intact.
func checkDelivered(t *testing.T, root string, sent map[string][]byte) {
	t.Helper()
	seen := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(root, "*", "Maildir", "new", "*"))
	cur, _ := filepath.Glob(filepath.Join(root, "*", "Maildir", "cur", "*"))
	for _, f := range append(files, cur...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(crlf(string(b)))
		id := headerMessageID(b)
		want, ok := sent[id]
		if !ok {
			continue // another run's
		}
		seen[id]++
		if !bytes.Equal(body(b), body(want)) {
			t.Errorf("%s: body differs", id)
		}
	}
	lost, dup := 0, 0
	for id := range sent {
		switch seen[id] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
	}
	if lost+dup > 0 {
		t.Errorf("%s: %d of %d messages lost, %d duplicated", root, lost, len(sent), dup)
	}
}

// TestLMTPThroughputVsDovecot measures deliveries per second over LMTP
// (4 concurrent sessions, 1 KiB and 100 KiB messages, maildir with fsync)
// for this server and for Dovecot 2.3's LMTP server on the same machine in
// one run, and checks that every message arrived once, intact. It is a
// measurement, run on demand:
//
//	LMTP_BENCH=1 go test -count=1 ./e2e/ -run TestLMTPThroughputVsDovecot -v
func TestLMTPThroughputVsDovecot(t *testing.T) {
	if os.Getenv("LMTP_BENCH") == "" {
		t.Skip("a measurement: run with LMTP_BENCH=1")
	}
	if _, err := exec.LookPath("dovecot"); err != nil {
		t.Fatalf("dovecot is not installed (apt-get install dovecot-core dovecot-lmtpd): %v", err)
	}
	ours := startLMTPServer(t, lmtpBackends[0].storage, "")
	dovecotAddr, dovecotRoot := startDovecotLMTP(t)
	const conns = 4
	for _, sz := range []struct {
		name        string
		size, count int
	}{{"1KiB", 1 << 10, 4000}, {"100KiB", 100 << 10, 800}} {
		for _, srv := range []struct{ name, addr, root string }{
			{"caddy-pop3", ours.LMTPAddr, ours.MailRoot},
			{"dovecot", dovecotAddr, dovecotRoot},
		} {
			run := srv.name + "-" + sz.name
			elapsed, sent := lmtpLoad(t, srv.addr, run, conns, sz.count, sz.size)
			checkDelivered(t, srv.root, sent)
			t.Logf("%-10s %-7s %5d messages in %6.2fs: %7.1f deliveries/s", srv.name, sz.name, sz.count,
				elapsed.Seconds(), float64(sz.count)/elapsed.Seconds())
		}
	}
}
