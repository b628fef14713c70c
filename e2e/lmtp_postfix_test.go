//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// postfixMainCf is the main.cf of a private Postfix instance that hands
// every message for example.com and example.net to the LMTP server and
// refuses all other mail. Verbs: the instance's directory (three times),
// the LMTP port.
const postfixMainCf = `compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mta.test.example
mydomain = test.example
myorigin = test.example
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
virtual_mailbox_domains = example.com example.net
virtual_mailbox_maps =
smtpd_reject_unlisted_recipient = no
virtual_transport = lmtp:inet:127.0.0.1:%[2]d
default_transport = error:tests send no mail outside
relay_transport = error:tests send no mail outside
smtpd_recipient_restrictions = permit_mynetworks, reject
maillog_file_prefixes = %[1]s
maillog_file = %[1]s/postfix.log
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = yes
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
bounce_queue_lifetime = 0
`

// postfixMasterCf runs the daemons a relay to LMTP needs, none chrooted,
// and an smtpd on a loopback port (verb).
const postfixMasterCf = `127.0.0.1:%d inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
lmtp      unix  - - n - - lmtp
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
showq     unix  n - n - - showq
postlog   unix-dgram n - n - 1 postlogd
`

// postfixInstance is a private Postfix: its config, queue and log in one
// temporary directory.
type postfixInstance struct {
	t    *testing.T
	dir  string
	conf string
}

// startPostfix starts a private Postfix relaying to the LMTP port, and
// stops it when the test ends.
func startPostfix(t *testing.T, lmtpPort int) *postfixInstance {
	t.Helper()
	postfix := requireTool(t, "postfix", "postfix")
	requireTool(t, "sendmail", "postfix")
	if _, err := user.Lookup("postfix"); err != nil {
		t.Fatalf("no postfix user (apt-get install postfix): %v", err)
	}
	// The daemons run as the postfix user: the directory must be
	// reachable by it, so it is not under t.TempDir (mode 0700).
	dir, err := os.MkdirTemp("", "lmtp-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	p := &postfixInstance{t: t, dir: dir, conf: filepath.Join(dir, "conf")}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{p.conf, filepath.Join(dir, "queue"), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pf, _ := user.Lookup("postfix")
	uid, _ := strconv.Atoi(pf.Uid)
	if err := os.Chown(filepath.Join(dir, "data"), uid, -1); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"main.cf":   fmt.Sprintf(postfixMainCf, dir, lmtpPort),
		"master.cf": fmt.Sprintf(postfixMasterCf, freePort(t)),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(p.conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, errOut, code := runCommand(t, dir, nil, postfix, "-c", p.conf, "start"); code != 0 {
		t.Fatalf("postfix start: exit %d\n%s%s\nlog:\n%s", code, out, errOut, p.log())
	}
	t.Cleanup(func() {
		_, _, _ = runCommand(t, dir, nil, postfix, "-c", p.conf, "stop")
		if t.Failed() {
			t.Logf("postfix log:\n%s", p.log())
		}
	})
	return p
}

// log is Postfix's log so far.
func (p *postfixInstance) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "postfix.log"))
	return string(b)
}

// sendmail submits msg with Postfix's sendmail(1) to the recipients.
func (p *postfixInstance) sendmail(sender, msg string, rcpts ...string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sendmail", append([]string{"-C", p.conf, "-f", sender, "-i", "--"}, rcpts...)...)
	cmd.Stdin = strings.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("sendmail: %v\n%s", err, out)
	}
}

// queued is one message in Postfix's queue, as postqueue -j prints it.
type queued struct {
	QueueName  string `json:"queue_name"`
	QueueID    string `json:"queue_id"`
	Recipients []struct {
		Address     string `json:"address"`
		DelayReason string `json:"delay_reason"`
	} `json:"recipients"`
}

// queue lists the messages in Postfix's queue.
func (p *postfixInstance) queue() []queued {
	p.t.Helper()
	out, errOut, code := runCommand(p.t, p.dir, nil, "postqueue", "-c", p.conf, "-j")
	if code != 0 {
		p.t.Fatalf("postqueue -j: exit %d: %s", code, errOut)
	}
	var q []queued
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m queued
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			p.t.Fatalf("postqueue -j line %q: %v", sc.Text(), err)
		}
		q = append(q, m)
	}
	return q
}

// waitQueue polls the queue until done says it is as expected, for at most
// a minute; then it fails the test.
func (p *postfixInstance) waitQueue(what string, done func([]queued) bool) []queued {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		q := p.queue()
		if done(q) {
			return q
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("postfix queue never got to %s: %+v\nlog:\n%s", what, q, p.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLMTPPostfix delivers with a real Postfix over LMTP into mbox: one
// message to three recipients where one mbox stays locked past
// lock_timeout (451 4.2.0: Postfix keeps only that recipient queued) and
// one is in a domain the LMTP server does not serve (550 5.1.2: bounced),
// plus messages to one recipient each. Every message is fetched back over
// POP3 and compared by Message-ID: 0 lost, 0 duplicated, 0 corrupted; and
// once the lock is gone, the requeued recipient gets its copy and the
// others get no second one.
func TestLMTPPostfix(t *testing.T) {
	t.Parallel()
	s := startLMTPServer(t, lmtpBackends[1].storage, "")
	p := startPostfix(t, s.LMTPPort)

	// bob's mbox is locked by another (live) program: this test's
	// process, by its dotlock.
	lock := filepath.Join(s.MailRoot, "bob.lock")
	if err := os.WriteFile(lock, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	inv := newLMTPInventory()
	sent := map[string]string{} // Message-ID -> the letter as sent, LF endings
	multi := testLetter("postfix-multi@test.example", "to three")
	sent["<postfix-multi@test.example>"] = multi
	p.sendmail("sender@example.com", multi, "alice@example.com", "bob@example.com", "nobody@example.net")
	inv.expect("alice", []byte(crlf(multi)))
	inv.expect("bob", []byte(crlf(multi)))
	for i := range 4 {
		id := fmt.Sprintf("postfix-%d@test.example", i)
		letter := testLetter(id, fmt.Sprintf("single %d", i))
		sent["<"+id+">"] = letter
		p.sendmail("sender@example.com", letter, "carol@example.com")
		inv.expect("carol", []byte(crlf(letter)))
	}

	// Postfix delivers what it can; only bob is left, deferred with the
	// LMTP server's 451 4.2.0.
	q := p.waitQueue("only bob deferred", func(q []queued) bool {
		return len(q) == 1 && len(q[0].Recipients) == 1 && q[0].Recipients[0].Address == "bob@example.com" &&
			q[0].Recipients[0].DelayReason != ""
	})
	if reason := q[0].Recipients[0].DelayReason; !strings.Contains(reason, "451 4.2.0") {
		t.Errorf("bob deferred for %q, want the LMTP server's 451 4.2.0", reason)
	}
	log := p.log()
	if !strings.Contains(log, "to=<nobody@example.net>") || !strings.Contains(log, "status=bounced") || !strings.Contains(log, "550 5.1.2") {
		t.Errorf("postfix log does not show nobody@example.net bounced with 550 5.1.2:\n%s", log)
	}
	// (POP3 cannot look: the lock keeps sessions out too.)
	if st, err := os.Stat(filepath.Join(s.MailRoot, "bob")); err == nil && st.Size() > 0 {
		t.Fatalf("bob's mbox has %d octets while it is locked", st.Size())
	}

	// The lock goes away; Postfix retries bob alone.
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	runCommand(t, p.dir, nil, "postqueue", "-c", p.conf, "-f")
	p.waitQueue("empty", func(q []queued) bool { return len(q) == 0 })

	// What arrived is the letter as sent after Postfix's and the LMTP
	// server's headers: compare the bodies, and check the trace headers
	// and that the sent header lines are all there.
	inv.check(t, s.server, []string{"alice", "bob", "carol"}, func(m []byte) []byte {
		id := headerMessageID(m)
		letter, ok := sent[id]
		if !ok {
			return m
		}
		for _, line := range strings.Split(strings.SplitN(letter, "\n\n", 2)[0], "\n") {
			if !strings.Contains(string(m), line+"\r\n") {
				t.Errorf("%s: header line %q missing", id, line)
			}
		}
		if !strings.HasPrefix(string(m), "Return-Path: <sender@example.com>\r\nDelivered-To: ") {
			t.Errorf("%s: no trace headers at the top:\n%s", id, m)
		}
		// Postfix adds headers; the body must be as sent.
		return append([]byte(strings.SplitN(crlf(letter), "\r\n\r\n", 2)[0]+"\r\n\r\n"), body(m)...)
	})
}
