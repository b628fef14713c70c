//go:build linux

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
)

// dovecotConf is a private Dovecot serving POP3 on one loopback port from
// <dir>/mail/<user>/Maildir, every password accepted for alice only. The
// verbs are the directory, the uid and gid mail runs as, the port (twice),
// pop3_uidl_format and mail_location.
const dovecotConf = `instance_name = caddy-pop3-e2e-%[5]d
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = %[2]d
last_valid_uid = 0
passdb {
  driver = static
  args = password=` + testPassword + `
}
userdb {
  driver = static
  args = uid=%[2]d gid=%[3]d home=%[1]s/mail/%%u
}
mail_location = %[7]s
pop3_lock_session = yes
protocol pop3 {
  pop3_uidl_format = %[6]s
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[4]d
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
}
`

// startDovecot runs a private Dovecot (dovecot-pop3d) in dir in the
// foreground and stops it when the test ends (or when stop is called).
func startDovecot(t *testing.T, dir, uidlFormat, mailLocation string) (addr string, stop func()) {
	t.Helper()
	dovecot := requireTool(t, "dovecot", "dovecot-core")
	if _, err := os.Stat("/usr/lib/dovecot/pop3"); err != nil {
		t.Fatalf("Dovecot's POP3 server is not installed (apt-get install dovecot-pop3d): %v", err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		// Dovecot refuses to give mail processes uid 0: they run as
		// nobody, which gets the mail tree and a way through the test's
		// own temporary directories to it.
		uid, gid = 65534, 65534
		for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		err := filepath.Walk(filepath.Join(dir, "mail"), func(path string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, uid, gid)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	conf := filepath.Join(dir, "dovecot.conf")
	text := fmt.Sprintf(dovecotConf, dir, uid, gid, port, port, uidlFormat, mailLocation)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dovecot, "-F", "-c", conf)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dovecot: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, stop
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot exited: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot did not listen on %s: %s\n%s", addr, out.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// popMessage is one message as a POP3 session showed it.
type popMessage struct {
	num  int
	uidl string
	sum  string // sha256 of the message as retrieved
}

var messageIDHeader = regexp.MustCompile(`(?mi)^Message-ID: *(<[^>]+>)`)

// listByMessageID logs in as alice and returns every message by its
// Message-ID, with its UIDL and checksum, failing the test when two
// messages share a UIDL or a Message-ID.
func listByMessageID(t *testing.T, p *pop3test.Client, dovecotLog string) map[string]popMessage {
	t.Helper()
	if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
		time.Sleep(500 * time.Millisecond) // let the log process write the error
		log, _ := os.ReadFile(dovecotLog)
		t.Fatalf("PASS: %q\n%s", r, log)
	}
	if r := p.Cmd("UIDL"); !strings.HasPrefix(r, "+OK") {
		time.Sleep(500 * time.Millisecond) // let the log process write the error
		log, _ := os.ReadFile(dovecotLog)
		t.Fatalf("UIDL: %q\n%s", r, log)
	}
	uidls := map[int]string{}
	seen := map[string]bool{}
	for _, l := range p.MultiLines() {
		n, uidl, ok := strings.Cut(l, " ")
		num, err := strconv.Atoi(n)
		if !ok || err != nil {
			t.Fatalf("UIDL line %q", l)
		}
		if seen[uidl] {
			t.Errorf("UIDL %q shown for two messages", uidl)
		}
		seen[uidl] = true
		uidls[num] = uidl
	}
	out := map[string]popMessage{}
	for num, uidl := range uidls {
		if r := p.Cmd(fmt.Sprintf("RETR %d", num)); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("RETR %d: %q", num, r)
		}
		body := strings.Join(p.MultiLines(), "\r\n") + "\r\n"
		m := messageIDHeader.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("message %d has no Message-ID", num)
		}
		if _, dup := out[m[1]]; dup {
			t.Errorf("message %s served twice", m[1])
		}
		sum := sha256.Sum256([]byte(body))
		out[m[1]] = popMessage{num: num, uidl: uidl, sum: hex.EncodeToString(sum[:])}
	}
	return out
}

// deliverTo puts a message with the given Message-ID into maildir/new/ as
// an MTA would (through tmp/). A base ending in ",S=" gets the size.
func deliverTo(t *testing.T, maildir, base, id string) {
	t.Helper()
	msg := fmt.Sprintf("From: bob@example.org\r\nTo: alice@example.org\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nBody of %s.\r\n.leading dot\r\n", id, id, id)
	if strings.HasSuffix(base, ",S=") {
		base += strconv.Itoa(len(msg))
	}
	tmp := filepath.Join(maildir, "tmp", base)
	if err := os.WriteFile(tmp, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(maildir, "new", base)); err != nil {
		t.Fatal(err)
	}
}

// TestDovecotUIDLsKept migrates a maildir from the real Dovecot: Dovecot
// serves it (UIDLs recorded, every message retrieved, two deleted), an
// IMAP client's flag changes and new mail follow, then caddy-pop3 serves
// the same maildir. Every message Dovecot listed and did not delete has
// the UIDL Dovecot showed, byte for byte the same content; the deleted
// ones are gone; the new ones have UIDLs of their own.
//
// It runs for Dovecot's default pop3_uidl_format (and no uidl_format in
// the Caddyfile) and for the other formats uidl_format accepts.
func TestDovecotUIDLsKept(t *testing.T) {
	for _, format := range []string{"%08Xu%08Xv", "%f", "%g", "%v.%u", "%u"} {
		// No '%' in the test's name: it is in its temporary directory,
		// which Dovecot's config would expand.
		name := strings.NewReplacer("%", "", "{", "", "}", "").Replace(format)
		t.Run(name, func(t *testing.T) { testDovecotUIDLsKept(t, format) })
	}
}

func testDovecotUIDLsKept(t *testing.T, format string) {
	dir := t.TempDir()
	maildir := filepath.Join(dir, "mail", testUser, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	const before = 8
	for i := range before {
		base := fmt.Sprintf("17000000%02d.M%dP42.e2e", i, i)
		if i%3 == 0 { // as Dovecot's LDA names them
			base += ",S=" // deliverTo adds the size
		}
		deliverTo(t, maildir, base, fmt.Sprintf("<old%d@e2e>", i))
	}

	addr, stopDovecot := startDovecot(t, dir, format, "maildir:~/Maildir")
	p := dialPOP3(t, addr)
	dovecot := listByMessageID(t, p, filepath.Join(dir, "dovecot.log"))
	if len(dovecot) != before {
		t.Fatalf("Dovecot listed %d messages, want %d", len(dovecot), before)
	}
	deleted := []string{"<old2@e2e>", "<old5@e2e>"}
	for _, id := range deleted {
		if r := p.Cmd(fmt.Sprintf("DELE %d", dovecot[id].num)); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("DELE: %q", r)
		}
	}
	if r := p.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %q", r)
	}
	stopDovecot()
	if _, err := os.Stat(filepath.Join(maildir, "dovecot-uidlist")); err != nil {
		t.Fatalf("Dovecot left no dovecot-uidlist: %v", err)
	}
	uidlist, _ := os.ReadFile(filepath.Join(maildir, "dovecot-uidlist"))
	t.Logf("dovecot-uidlist:\n%s", uidlist)

	// An IMAP client marks some messages seen and flagged (a rename in
	// cur/); new mail arrives.
	curNames, err := os.ReadDir(filepath.Join(maildir, "cur"))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range curNames {
		if i%2 == 1 {
			continue
		}
		name := e.Name()
		_, flags, _ := strings.Cut(name, ":2,")
		add := ""
		for _, f := range "FS" {
			if !strings.ContainsRune(flags, f) {
				add += string(f)
			}
		}
		if !strings.Contains(name, ":2,") {
			add = ":2," + add
		}
		if err := os.Rename(filepath.Join(maildir, "cur", name), filepath.Join(maildir, "cur", name+add)); err != nil {
			t.Fatal(err)
		}
	}
	newIDs := []string{"<new0@e2e>", "<new1@e2e>"}
	for i, id := range newIDs {
		deliverTo(t, maildir, fmt.Sprintf("17000001%02d.M%dP43.e2e", i, i), id)
	}

	opts := serverOptions{mailRoot: filepath.Join(dir, "mail")}
	if format != "%08Xu%08Xv" {
		opts.maildir = "uidl_format " + format
	}
	s := startServer(t, opts)
	for round := range 2 { // the second login may be served from the listing cache
		c := dialPOP3(t, s.Addr)
		ours := listByMessageID(t, c, "")
		if r := c.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("QUIT: %q", r)
		}
		if want := before - len(deleted) + len(newIDs); len(ours) != want {
			t.Errorf("round %d: caddy-pop3 serves %d messages, want %d", round, len(ours), want)
		}
		dovecotUIDLs := map[string]bool{}
		for id, d := range dovecot {
			dovecotUIDLs[d.uidl] = true
			o, ok := ours[id]
			deletedHere := id == deleted[0] || id == deleted[1]
			switch {
			case deletedHere && ok:
				t.Errorf("round %d: %s, deleted through Dovecot, is served", round, id)
			case deletedHere:
			case !ok:
				t.Errorf("round %d: %s is lost", round, id)
			case o.uidl != d.uidl:
				t.Errorf("round %d: %s has UIDL %q, Dovecot showed %q", round, id, o.uidl, d.uidl)
			case o.sum != d.sum:
				t.Errorf("round %d: %s differs from what Dovecot served", round, id)
			}
		}
		for _, id := range newIDs {
			o, ok := ours[id]
			if !ok {
				t.Errorf("round %d: new message %s is not served", round, id)
			} else if dovecotUIDLs[o.uidl] {
				t.Errorf("round %d: new message %s has UIDL %q, which Dovecot gave another message", round, id, o.uidl)
			}
		}
		t.Logf("round %d: Dovecot %v; caddy-pop3 %v", round, dovecot, ours)
	}
	if after, _ := os.ReadFile(filepath.Join(maildir, "dovecot-uidlist")); string(after) != string(uidlist) {
		t.Errorf("dovecot-uidlist was changed:\n%s", after)
	}
	if format == dovecotuidlDefault {
		migrateKeepsDovecotUIDLs(t, "maildir:"+maildir, dovecot, map[string]bool{deleted[0]: true, deleted[1]: true}, newIDs)
	}
}

// dovecotuidlDefault is Dovecot's default pop3_uidl_format, the one
// `caddy pop3 migrate` reads sources with.
const dovecotuidlDefault = "%08Xu%08Xv"

// migrateKeepsDovecotUIDLs runs `caddy pop3 migrate` from the maildrop
// Dovecot served (from) into a fresh maildir, and checks that the copy
// shows every message Dovecot listed, and did not delete, with the UIDL
// Dovecot showed, and the new ones with UIDLs of their own.
func migrateKeepsDovecotUIDLs(t *testing.T, from string, dovecot map[string]popMessage, deleted map[string]bool, newIDs []string) {
	t.Helper()
	s, config := startStorageServer(t, storageBackends[0].storage)
	out, stderr, code := runCommand(t, s.Dir, caddyEnv(s.Dir), caddyBin, "pop3", "migrate", "--config", config, "--user", testUser, "--from", from)
	if code != 0 {
		t.Fatalf("caddy pop3 migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("caddy pop3 migrate --from %s: %s%s", from, out, stderr)
	c := dialPOP3(t, s.Addr)
	copied := listByMessageID(t, c, "")
	if r := c.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %q", r)
	}
	dovecotUIDLs := map[string]bool{}
	for id, d := range dovecot {
		dovecotUIDLs[d.uidl] = true
		o, ok := copied[id]
		switch {
		case deleted[id] && ok:
			t.Errorf("migrated: %s, deleted through Dovecot, was copied", id)
		case deleted[id]:
		case !ok:
			t.Errorf("migrated: %s is lost", id)
		case o.uidl != d.uidl:
			t.Errorf("migrated: %s has UIDL %q, Dovecot showed %q", id, o.uidl, d.uidl)
		}
	}
	for _, id := range newIDs {
		if o, ok := copied[id]; !ok {
			t.Errorf("migrated: new message %s was not copied", id)
		} else if dovecotUIDLs[o.uidl] {
			t.Errorf("migrated: new message %s has UIDL %q, which Dovecot gave another message", id, o.uidl)
		}
	}
}

// mboxMessage is one message of an mbox spool with the given Message-ID.
func mboxMessage(id string, extra string) string {
	return "From bob@example.org Tue Dec  1 10:00:00 2026\nFrom: bob@example.org\nTo: alice@example.org\nSubject: " + id +
		"\nMessage-ID: " + id + "\n" + extra + "\nBody of " + id + ".\n>From a quoted line\n\n"
}

// TestDovecotMboxUIDLsKept is TestDovecotUIDLsKept for an mbox spool:
// Dovecot serves it (and writes its X-IMAPbase and X-UID headers), two
// messages are deleted, new mail is appended, then caddy-pop3 serves the
// spool: every message Dovecot listed has the UIDL Dovecot showed, even
// one with an older X-UIDL header; the new ones have UIDLs of their own.
//
// It runs for Dovecot's default pop3_uidl_format and for %v.%u (with
// uidl_format in the Caddyfile).
func TestDovecotMboxUIDLsKept(t *testing.T) {
	for _, format := range []string{"%08Xu%08Xv", "%v.%u"} {
		name := strings.ReplaceAll(format, "%", "") // see TestDovecotUIDLsKept
		t.Run(name, func(t *testing.T) { testDovecotMboxUIDLsKept(t, format) })
	}
}

func testDovecotMboxUIDLsKept(t *testing.T, format string) {
	dir := t.TempDir()
	home := filepath.Join(dir, "mail", testUser)
	if err := os.MkdirAll(filepath.Join(home, "mail"), 0o700); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(home, "mbox")
	const before = 6
	var text strings.Builder
	for i := range before {
		extra := ""
		if i == 1 {
			extra = "X-UIDL: left-by-qpopper\n" // Dovecot does not show it (pop3_reuse_xuidl = no)
		}
		text.WriteString(mboxMessage(fmt.Sprintf("<old%d@e2e>", i), extra))
	}
	if err := os.WriteFile(spool, []byte(text.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	addr, stopDovecot := startDovecot(t, dir, format, "mbox:~/mail:INBOX=~/mbox")
	p := dialPOP3(t, addr)
	dovecot := listByMessageID(t, p, filepath.Join(dir, "dovecot.log"))
	if len(dovecot) != before {
		t.Fatalf("Dovecot listed %d messages, want %d", len(dovecot), before)
	}
	deleted := map[string]bool{"<old2@e2e>": true, "<old4@e2e>": true}
	for id := range deleted {
		if r := p.Cmd(fmt.Sprintf("DELE %d", dovecot[id].num)); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("DELE: %q", r)
		}
	}
	if r := p.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("QUIT: %q", r)
	}
	stopDovecot()
	served, err := os.ReadFile(spool)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(served), "X-IMAPbase: ") {
		t.Fatalf("Dovecot wrote no X-IMAPbase header:\n%s", served)
	}
	newIDs := []string{"<new0@e2e>", "<new1@e2e>"}
	f, err := os.OpenFile(spool, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range newIDs {
		if _, err := f.WriteString(mboxMessage(id, "")); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	uidlFormat := ""
	if format != "%08Xu%08Xv" {
		uidlFormat = "\t\t\t\t\t\tuidl_format " + format + "\n"
	}
	s, _ := startStorageServer(t, func(string) string {
		return "storage mbox {\n\t\t\t\t\t\tpath " + filepath.Join(dir, "mail") + "/{pop3.user}/mbox\n\t\t\t\t\t\tlock_timeout 30s\n" + uidlFormat + "\t\t\t\t\t}"
	})
	for round := range 2 {
		c := dialPOP3(t, s.Addr)
		ours := listByMessageID(t, c, "")
		if r := c.Cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("QUIT: %q", r)
		}
		if want := before - len(deleted) + len(newIDs); len(ours) != want {
			t.Errorf("round %d: caddy-pop3 serves %d messages, want %d", round, len(ours), want)
		}
		dovecotUIDLs := map[string]bool{}
		for id, d := range dovecot {
			dovecotUIDLs[d.uidl] = true
			o, ok := ours[id]
			switch {
			case deleted[id] && ok:
				t.Errorf("round %d: %s, deleted through Dovecot, is served", round, id)
			case deleted[id]:
			case !ok:
				t.Errorf("round %d: %s is lost", round, id)
			case o.uidl != d.uidl:
				t.Errorf("round %d: %s has UIDL %q, Dovecot showed %q", round, id, o.uidl, d.uidl)
			}
		}
		for _, id := range newIDs {
			o, ok := ours[id]
			if !ok {
				t.Errorf("round %d: new message %s is not served", round, id)
			} else if dovecotUIDLs[o.uidl] {
				t.Errorf("round %d: new message %s has UIDL %q, which Dovecot gave another message", round, id, o.uidl)
			}
		}
	}
	if format == dovecotuidlDefault {
		migrateKeepsDovecotUIDLs(t, "mbox:"+spool, dovecot, deleted, newIDs)
	}
}
