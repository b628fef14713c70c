package mbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// smallTmpfs mounts a tmpfs of the given size at a new directory and
// unmounts it when the test ends.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	needRoot(t, "mounting a small tmpfs")
	dir := filepath.Join(t.TempDir(), "full")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size+",mode=0700"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mounting a tmpfs: %v", err)
		}
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		closeLeftSessions(dir)
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// freeBytes returns the free space of the file system at dir.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize) //nolint:unconvert // not int64 everywhere
}

// TestCommitOnFullDisk commits deletions on a file system with no room
// for the new copy of the spool: the commit fails, deletes nothing, and
// leaves nothing behind (a temporary copy left there would eat the space
// the next delivery needs).
func TestCommitOnFullDisk(t *testing.T) {
	dir := smallTmpfs(t, "1m")
	m := &Mbox{Path: filepath.Join(dir, storage.PlaceholderUser)}
	spool := filepath.Join(dir, alice)
	want := inventory{}
	var msgs [][]byte
	for i := range 7 {
		msg := numbered("full", i, 100*1024)
		if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, msg)
		want.add(t, msg)
	}
	free := freeBytes(t, dir)

	md := openSession(t, m, alice)
	err := md.Commit(context.Background(), []int{0})
	if err == nil {
		t.Fatal("Commit succeeded with no room for the new spool")
	}
	t.Logf("Commit on a full disk: %v", err)
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("Commit: %v, want ENOSPC", err)
	}
	for _, p := range []string{tempPath(spool), journalPath(spool)} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	if after := freeBytes(t, dir); after < free {
		t.Errorf("free space %d after the failed commit, %d before", after, free)
	}
	auditMaildrop(t, m, alice, want, nil).expectClean(t)

	// The space is there for the next delivery.
	late := numbered("full-late", 0, 100*1024)
	if err := m.Deliver(t.Context(), alice, storage.Envelope{}, bytes.NewReader(late)); err != nil {
		t.Fatalf("delivery after the failed commit: %v", err)
	}
	want.add(t, late)
	auditMaildrop(t, m, alice, want, nil).expectClean(t)
}
