//go:build linux

package e2e

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// migrateSource is a maildrop of another server, written in its format,
// with the UIDLs a caddy-pop3 session shows for it.
type migrateSource struct {
	from string            // the --from argument
	want map[string]string // UIDL -> content, as a session sends it (before CRLF)
}

// writeMaildirSource writes a Dovecot-style maildir: messages in new/ and
// in cur/ with flags and size fields. Their UIDLs are their base names.
func writeMaildirSource(t *testing.T, root string) migrateSource {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	src := migrateSource{from: "maildir:" + root, want: map[string]string{}}
	files := []struct{ sub, name, base string }{
		{"cur", "1500000001.M11P7.oldhost,S=%d:2,S", "1500000001.M11P7.oldhost"},
		{"cur", "1500000002.M12P7.oldhost:2,RS", "1500000002.M12P7.oldhost"},
		{"new", "1500000003.M13P7.oldhost", "1500000003.M13P7.oldhost"},
		{"new", "1500000004.M14P7.oldhost,S=%d", "1500000004.M14P7.oldhost"},
	}
	for i, f := range files {
		body := fmt.Sprintf("Message-ID: <md%d@old>\nSubject: maildir %d\n\nFrom the old server\n.\n..dots\nline %d\n", i, i, i)
		name := f.name
		if strings.Contains(name, "%d") {
			name = fmt.Sprintf(name, len(body))
		}
		p := filepath.Join(root, f.sub, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := time.Date(2017, 7, 14, 2, 40, i, 0, time.UTC)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		src.want[f.base] = body
	}
	return src
}

// writeMboxSource writes an mbox spool as Dovecot or UW-IMAP left it, with
// X-UIDL header fields (the UIDLs a session keeps) and mboxrd quoting.
func writeMboxSource(t *testing.T, spool string) migrateSource {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(spool), 0o700); err != nil {
		t.Fatal(err)
	}
	src := migrateSource{from: "mbox:" + spool, want: map[string]string{}}
	var b strings.Builder
	for i := range 4 {
		uid := fmt.Sprintf("%08x%08x", i+1, 1500000000)
		body := fmt.Sprintf("Message-ID: <mb%d@old>\nX-UIDL: %s\nSubject: mbox %d\n\nbody %d\n", i, uid, i, i)
		fmt.Fprintf(&b, "From old@example.net Fri Jul 14 02:40:0%d 2017\n%s>From quoted in the spool\n\n", i, body)
		src.want[uid] = body + "From quoted in the spool\n"
	}
	if err := os.WriteFile(spool, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestMigrateCommand copies a maildir and an mbox spool of another server
// with `caddy pop3 migrate` into a fresh maildir, then checks with curl
// that a POP3 session lists exactly the source's UIDLs and serves each
// message byte for byte (an inventory of Message-ID -> SHA-256), that the
// source is unchanged, and that a second run copies nothing.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	for _, kind := range []string{"maildir", "mbox"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s, config := startStorageServer(t, storageBackends[0].storage)
			old := filepath.Join(s.Dir, "old")
			var src migrateSource
			if kind == "maildir" {
				src = writeMaildirSource(t, filepath.Join(old, testUser, "Maildir"))
			} else {
				src = writeMboxSource(t, filepath.Join(old, testUser))
			}
			migrateAndCheck(t, curl, s, config, old, src)
		})
	}
}

// migrateAndCheck runs `caddy pop3 migrate` twice for src (under old),
// into the storage of config, served by s, and checks what a POP3
// session then sees (see TestMigrateCommand).
func migrateAndCheck(t *testing.T, curl string, s *server, config, old string, src migrateSource) {
	t.Helper()
	before := treeState(t, old)

	for run, want := range []string{"4 copied", "0 copied (0 bytes), 4 already there"} {
		out, stderr, code := runCommand(t, s.Dir, caddyEnv(s.Dir), caddyBin, "pop3", "migrate", "--config", config, "--user", testUser, "--from", src.from)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("run %d: exit %d, stdout %q (want %q), stderr %s", run+1, code, out, want, stderr)
		}
	}
	if after := treeState(t, old); after != before {
		t.Errorf("the source changed:\nbefore %s\nafter  %s", before, after)
	}

	root := pop3URL(s, testUser, testPassword, "")
	uids := parseScanListing(t, curlRun(t, curl, "--request", "UIDL", root))
	var got, want []string
	for _, u := range uids {
		got = append(got, u)
	}
	for u := range src.want {
		want = append(want, u)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("UIDL lists %q, want the source's %q", got, want)
	}
	// Inventory: Message-ID -> SHA-256 of the wire form.
	wantInv, gotInv := map[string][32]byte{}, map[string][32]byte{}
	for _, body := range src.want {
		wantInv[messageID([]byte(body))] = sha256.Sum256([]byte(wireOf(body)))
	}
	for n, u := range uids {
		content := curlRun(t, curl, root+n)
		id := messageID([]byte(content))
		if _, dup := gotInv[id]; dup {
			t.Errorf("message %s served twice", id)
		}
		gotInv[id] = sha256.Sum256([]byte(content))
		if content != wireOf(src.want[u]) {
			t.Errorf("RETR %s (UIDL %s):\n got %q\nwant %q", n, u, content, wireOf(src.want[u]))
		}
	}
	lost, corrupted := 0, 0
	for id, sum := range wantInv {
		g, ok := gotInv[id]
		switch {
		case !ok:
			lost++
		case g != sum:
			corrupted++
		}
	}
	if lost != 0 || corrupted != 0 || len(gotInv) != len(wantInv) {
		t.Errorf("inventory: %d lost, %d corrupted, %d served of %d", lost, corrupted, len(gotInv), len(wantInv))
	}
}

// treeState describes every file under root: path, size, mtime.
func treeState(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s\n", p, fi.Size(), fi.ModTime())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
