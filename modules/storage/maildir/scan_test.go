package maildir

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/maildir/internal/ownerlock"
)

// openAlice opens alice's maildrop in m and returns it with the path of
// her maildir.
func openAlice(t *testing.T, m *Maildir, dir string) (*maildrop, string) {
	t.Helper()
	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return md.(*maildrop), filepath.Join(dir, "alice", "Maildir")
}

// names returns the sorted names in dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// content reads message i of md.
func content(t *testing.T, md storage.Maildrop, i int) []byte {
	t.Helper()
	rc, err := md.Open(context.Background(), i)
	if err != nil {
		t.Fatalf("Open(%d): %v", i, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenReadsOtherAgentsNames(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	files := []struct {
		agent   string
		sub     string
		name    string
		content string
		size    int64
	}{
		{"courier", dirCur, "1700000000.M1P2V0000000000000801I0000000000003a2b_0.host,S=12:2,S", "Subject: 0\n\n", 14},
		{"dovecot lda", dirNew, "1700000001.M123456P4321.mail.example.org,S=14,W=14", "Subject: 1\r\n\r\n", 14},
		{"dovecot imap flags", dirCur, "1700000002.M222P4321.mail.example.org,S=12,W=14:2,RS", "Subject: 2\n\n", 14},
		{"postfix", dirNew, "1700000003.V801I3a2bM123456.mx.example.net", "Subject: 3\n\nbody", 20},
		{"opensmtpd", dirNew, "1700000004.a1b2c3d4e5f60718.mail.example.org", "Subject: 4\n\n.\n", 17},
	}
	// Written newest first, so that the order of the listing comes from
	// the names, not from the order of writing.
	for i := len(files) - 1; i >= 0; i-- {
		writeMaildirFile(t, root, files[i].sub, files[i].name, []byte(files[i].content))
	}

	md, _ := openAlice(t, m, dir)
	// Open renames nothing: every message keeps its name and place.
	want := map[string][]string{}
	for _, f := range files {
		want[f.sub] = append(want[f.sub], f.name)
	}
	for _, sub := range []string{dirCur, dirNew} {
		slices.Sort(want[sub])
		if got := names(t, filepath.Join(root, sub)); !slices.Equal(got, want[sub]) {
			t.Errorf("%s/ has\n%q\nwant\n%q", sub, got, want[sub])
		}
	}
	msgs := md.Messages()
	if len(msgs) != len(files) {
		t.Fatalf("%d messages, want %d", len(msgs), len(files))
	}
	for i, f := range files {
		if want := baseOf(f.name); msgs[i].UID != want {
			t.Errorf("%s: UIDL %q, want %q", f.agent, msgs[i].UID, want)
		}
		if msgs[i].Size != f.size || msgs[i].Size != storage.WireSize([]byte(f.content)) {
			t.Errorf("%s: size %d, want %d", f.agent, msgs[i].Size, f.size)
		}
		if got := content(t, md, i); string(got) != f.content {
			t.Errorf("%s: content %q, want %q", f.agent, got, f.content)
		}
	}
	if err := md.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSizeInNameIsTrusted(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	name := "1700000000.M1P1.h,S=2,W=999:2,S"
	writeMaildirFile(t, root, dirCur, name, []byte("x\n"))
	md, _ := openAlice(t, m, dir)
	defer md.Close()
	if got := md.Messages()[0].Size; got != 999 {
		t.Errorf("size %d, want the 999 of the name", got)
	}
	if got := names(t, filepath.Join(root, dirCur)); !slices.Equal(got, []string{name}) {
		t.Errorf("cur/ has %q, want %q untouched", got, name)
	}
}

// TestUnsizedNameKept checks that a message whose name does not say its
// size keeps its name (no W= is added) and its UIDL, and that the next
// sessions, from the listing cache and after a restart from the index
// file, list it with the same size.
func TestUnsizedNameKept(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	msg := []byte("Subject: sized\n\nonce\n")
	name := "1700000000.V801I2M3.host:2,S"
	writeMaildirFile(t, root, dirCur, name, msg)

	md, _ := openAlice(t, m, dir)
	first := slices.Clone(md.Messages())
	md.Close()
	if first[0].UID != "1700000000.V801I2M3.host" || first[0].Size != 24 {
		t.Errorf("listed %v", first[0])
	}
	for _, restarted := range []bool{false, true} {
		if restarted {
			restart()
		}
		md, _ = openAlice(t, m, dir)
		if !slices.Equal(md.Messages(), first) {
			t.Errorf("restarted %v: the next session lists %v, the first listed %v", restarted, md.Messages(), first)
		}
		md.Close()
		if got := names(t, filepath.Join(root, dirCur)); !slices.Equal(got, []string{name}) {
			t.Errorf("restarted %v: cur/ has %q, want %q untouched", restarted, got, name)
		}
	}
}

func TestOpenIgnoresWhatIsNotAMessage(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	msg := writeMaildirFile(t, root, dirCur, "1700000000.M1P1.h,W=3:2,", []byte("m\n"))
	ignored := []string{
		filepath.Join(root, dirTmp, "1700000001.M1P1.h"),
		filepath.Join(root, dirNew, ".1700000002.M1P1.h"),
		filepath.Join(root, dirCur, ".hidden:2,"),
		filepath.Join(root, ".Sent", dirCur, "1700000003.M1P1.h:2,S"),
		filepath.Join(root, ".Sent", dirNew, "1700000004.M1P1.h"),
		filepath.Join(root, dirCur, "subfolder", "1700000005.M1P1.h:2,"),
		filepath.Join(root, "dovecot-uidlist"),
	}
	for _, p := range ignored {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("not listed\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(root, dirNew, "1700000006.M1P1.link")
	if err := os.Symlink(msg, link); err != nil {
		t.Fatal(err)
	}
	ignored = append(ignored, link)
	if fifo := filepath.Join(root, dirNew, "1700000007.M1P1.fifo"); mkfifo(t, fifo) {
		ignored = append(ignored, fifo)
	}

	md, _ := openAlice(t, m, dir)
	if n := len(md.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
	if err := md.Commit(context.Background(), []int{0}); err != nil {
		t.Fatal(err)
	}
	for _, p := range ignored {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was touched: %v", p, err)
		}
	}
}

func TestOpenCreatesMaildir(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(root string) error
	}{
		{"nothing", func(string) error { return nil }},
		{"only root", func(root string) error { return os.MkdirAll(root, 0o700) }},
		{"only cur", func(root string) error { return os.MkdirAll(filepath.Join(root, dirCur), 0o700) }},
		{"no tmp", func(root string) error {
			return errors.Join(os.MkdirAll(filepath.Join(root, dirCur), 0o700), os.MkdirAll(filepath.Join(root, dirNew), 0o700))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			root := filepath.Join(dir, "alice", "Maildir")
			if err := tt.prepare(root); err != nil {
				t.Fatal(err)
			}
			md, _ := openAlice(t, m, dir)
			defer md.Close()
			if n := len(md.Messages()); n != 0 {
				t.Errorf("%d messages, want 0", n)
			}
			for _, sub := range []string{dirCur, dirNew, dirTmp} {
				fi, err := os.Stat(filepath.Join(root, sub))
				if err != nil {
					t.Fatalf("%s: %v", sub, err)
				}
				if !fi.IsDir() {
					t.Errorf("%s is not a directory", sub)
				}
				if tt.name == "nothing" && fi.Mode().Perm() != 0o700 {
					t.Errorf("%s has mode %v, want 0700", sub, fi.Mode().Perm())
				}
			}
			if _, err := os.Stat(filepath.Join(root, LockFileName)); err != nil {
				t.Errorf("lock file: %v", err)
			}
		})
	}
}

func TestOpenRefusesFileAsMaildir(t *testing.T) {
	m, dir := newTestStore(t)
	if err := os.MkdirAll(filepath.Join(dir, "alice"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "alice", "Maildir")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := m.Open(context.Background(), "alice")
	if err == nil {
		t.Fatal("Open succeeded on a maildir that is a file")
	}
	if !bytes.Contains([]byte(err.Error()), []byte(path)) {
		t.Errorf("error %q does not name %s", err, path)
	}
}

func TestLockFileIsShared(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	// Another program (or another Caddy) holding the documented lock file.
	lock, err := ownerlock.Acquire(filepath.Join(root, LockFileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(context.Background(), "alice"); !errors.Is(err, storage.ErrInUse) {
		t.Errorf("Open with the lock file held: %v, want ErrInUse", err)
	}
	if err := lock.Unlock(); err != nil {
		t.Fatal(err)
	}
	md, _ := openAlice(t, m, dir)
	md.Close()
}

func TestStaleLockFileIsTakenOver(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	// Left by an older caddy-pop3 (an empty file it locked by flock),
	// long ago.
	lockPath := filepath.Join(root, LockFileName)
	if err := os.WriteFile(lockPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(lockPath, old, old); err != nil {
		t.Fatal(err)
	}
	md, _ := openAlice(t, m, dir)
	if _, err := m.Open(context.Background(), "alice"); !errors.Is(err, storage.ErrInUse) {
		t.Errorf("second Open: %v, want ErrInUse", err)
	}
	if err := md.Close(); err != nil {
		t.Fatal(err)
	}
	// The lock file stays, with the free record in it.
	if b, err := os.ReadFile(lockPath); err != nil || strings.TrimSpace(string(b)) != "" {
		t.Errorf("lock file after Close: %q, %v, want the free record", b, err)
	}
}

func TestMessageRenamedAfterSnapshot(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	msgs := []string{"Subject: a\n\n", "Subject: b\n\n", "Subject: c\n\n"}
	for i, c := range msgs[:2] {
		writeMaildirFile(t, root, dirNew, "170000000"+string(rune('0'+i))+".M1P1.h", []byte(c))
	}
	writeMaildirFile(t, root, dirCur, "1700000002.M1P1.h"+string(infoSep)+"2,", []byte(msgs[2]))
	md, _ := openAlice(t, m, dir)
	// An IMAP server marks message 1 (in new/) seen, moving it into cur/,
	// and message 2 (in cur/) answered.
	old := md.path(md.files[1])
	if err := os.Rename(old, filepath.Join(root, dirCur, md.files[1].name+string(infoSep)+"2,S")); err != nil {
		t.Fatal(err)
	}
	old = md.path(md.files[2])
	if err := os.Rename(old, old+"R"); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		if got := content(t, md, i); string(got) != msgs[i] {
			t.Errorf("renamed message %d reads %q, want %q", i+1, got, msgs[i])
		}
	}
	if err := md.Commit(context.Background(), []int{1, 2}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := names(t, filepath.Join(root, dirCur)); len(got) != 0 {
		t.Errorf("cur/ has %q, want nothing", got)
	}
	if got := names(t, filepath.Join(root, dirNew)); len(got) != 1 || baseOf(got[0]) != "1700000000.M1P1.h" {
		t.Errorf("new/ has %q, want only the first message", got)
	}
}

func TestInterruptedMoveLeavesOneMessage(t *testing.T) {
	tests := []struct {
		name  string
		other func(root, kept string) string // makes a second name for kept
	}{
		{"new and cur", func(root, kept string) string {
			return filepath.Join(root, dirNew, baseOf(filepath.Base(kept)))
		}},
		{"cur without size", func(root, kept string) string {
			return filepath.Join(root, dirCur, baseOf(filepath.Base(kept))+":2,")
		}},
		{"cur with other flags", func(root, kept string) string {
			return filepath.Join(root, dirCur, baseOf(filepath.Base(kept))+",W=3:2,FS")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := newTestStore(t)
			root := filepath.Join(dir, "alice", "Maildir")
			kept := writeMaildirFile(t, root, dirCur, "1700000000.M1P1.h,W=3:2,", []byte("m\n"))
			if err := os.Link(kept, tt.other(root, kept)); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				md, _ := openAlice(t, m, dir)
				if n := len(md.Messages()); n != 1 {
					t.Errorf("%d messages, want 1", n)
				}
				if got := content(t, md, 0); string(got) != "m\n" {
					t.Errorf("content %q", got)
				}
				md.Close()
			}
			var all []string
			for _, sub := range []string{dirCur, dirNew} {
				all = append(all, names(t, filepath.Join(root, sub))...)
			}
			if len(all) != 1 {
				t.Errorf("maildir keeps %q, want one name", all)
			}
		})
	}
}

func TestSameBaseDifferentMessages(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	writeMaildirFile(t, root, dirCur, "1700000000.M1P1.h,W=3:2,S", []byte("a\n"))
	writeMaildirFile(t, root, dirNew, "1700000000.M1P1.h", []byte("bb\n"))
	var first []storage.Message
	for range 2 {
		md, _ := openAlice(t, m, dir)
		msgs := md.Messages()
		if len(msgs) != 2 {
			t.Fatalf("%d messages, want 2", len(msgs))
		}
		if msgs[0].UID == msgs[1].UID {
			t.Errorf("both messages have the UIDL %q", msgs[0].UID)
		}
		got := []string{string(content(t, md, 0)), string(content(t, md, 1))}
		slices.Sort(got)
		if !slices.Equal(got, []string{"a\n", "bb\n"}) {
			t.Errorf("contents %q", got)
		}
		if first != nil && !slices.Equal(first, msgs) {
			t.Errorf("listing changed from %v to %v", first, msgs)
		}
		first = slices.Clone(msgs)
		md.Close()
	}
}

// TestCommitLeavesNonMessagesAlone replaces a message marked for deletion
// by a non-empty directory: the commit deletes the other messages, and
// leaves the directory (which is not the message, and not the session's
// to delete) as it is.
func TestCommitLeavesNonMessagesAlone(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	for i := range 3 {
		writeMaildirFile(t, root, dirNew, "170000000"+string(rune('0'+i))+".M1P1.h", []byte("m\n"))
	}
	md, _ := openAlice(t, m, dir)
	stuck := md.path(md.files[1])
	if err := os.Remove(stuck); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(stuck, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := md.Commit(context.Background(), []int{0, 1, 2}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := os.Stat(filepath.Join(stuck, "x")); err != nil {
		t.Errorf("the directory in the message's place was damaged: %v", err)
	}
	md2, _ := openAlice(t, m, dir) // the lock was released
	if n := len(md2.Messages()); n != 0 {
		t.Errorf("%d messages left, want 0 (0 and 2 deleted, 1 not a file)", n)
	}
	md2.Close()
}

func TestUseAfterEnd(t *testing.T) {
	m, dir := newTestStore(t)
	writeMaildirFile(t, filepath.Join(dir, "alice", "Maildir"), dirNew, "1700000000.M1P1.h", []byte("m\n"))
	md, _ := openAlice(t, m, dir)
	if err := md.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := md.Open(context.Background(), 0); !errors.Is(err, errClosed) {
		t.Errorf("Open after Close: %v", err)
	}
	if err := md.Commit(context.Background(), []int{0}); !errors.Is(err, errClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	md, _ = openAlice(t, m, dir)
	defer md.Close()
	if n := len(md.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestMessageFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m")
	want := strings.Repeat("line\n", 20000)
	if err := os.WriteFile(path, []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := openTree(filepath.Dir(path), "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	f, err := d.openMessage("m")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	if err != nil || string(got) != want {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(want))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Read(make([]byte, 1)); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := d.openMessage("m.missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("opening a missing file: %v", err)
	}
}
