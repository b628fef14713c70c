//go:build unix

package mbox

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestCommitPreservesModeAndOwner(t *testing.T) {
	needRoot(t, "giving the spool another owner")
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	msgs := deliverNumbered(t, m, alice, 3)
	if err := os.Chmod(spool, 0o660); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(spool, 4321, 8765); err != nil {
		t.Fatal(err)
	}
	before := statOf(t, spool)

	commit(t, m, alice, 1)
	after := statOf(t, spool)
	if !os.SameFile(before, after) {
		t.Error("the commit replaced the spool by a new file")
	}
	if after.Mode().Perm() != 0o660 {
		t.Errorf("mode %v, want 0660", after.Mode().Perm())
	}
	st := after.Sys().(*syscall.Stat_t)
	if st.Uid != 4321 || st.Gid != 8765 {
		t.Errorf("owner %d:%d, want 4321:8765", st.Uid, st.Gid)
	}
	expectMessages(t, m, alice, msgs[0], msgs[2])
	if _, err := os.Lstat(tempPath(spool)); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestCommitWithoutDeletionsWritesNothing(t *testing.T) {
	m, dir := newTestStore(t)
	spool := filepath.Join(dir, alice)
	msgs := deliverNumbered(t, m, alice, 2)
	before := statOf(t, spool)
	commit(t, m, alice)
	after := statOf(t, spool)
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("a commit without deletions rewrote the spool")
	}
	expectMessages(t, m, alice, msgs...)
}

func TestCommitKeepsForeignBytes(t *testing.T) {
	// Bytes before the first message, an mboxo message and a
	// Content-Length-framed one are copied as they are.
	m, dir := newTestStore(t)
	spool := writeTestSpool(t, dir, "junk before\n\n"+
		"From a@example.net Mon Jan  1 00:00:00 2024\nS: 1\n\n>From mboxo\n\n"+
		"From b@example.net Mon Jan  1 00:00:01 2024\nS: 2\n\ndelete me\n\n"+
		"From c@example.net Mon Jan  1 00:00:02 2024\nContent-Length: 3\nS: 3\n\nabc\n"+
		"From d@example.net Mon Jan  1 00:00:03 2024\nS: 4\n\nlast")
	commit(t, m, alice, 1)
	raw, err := os.ReadFile(spool)
	if err != nil {
		t.Fatal(err)
	}
	want := "junk before\n\n" +
		"From a@example.net Mon Jan  1 00:00:00 2024\nS: 1\n\n>From mboxo\n\n" +
		"From c@example.net Mon Jan  1 00:00:02 2024\nContent-Length: 3\nS: 3\n\nabc\n" +
		"From d@example.net Mon Jan  1 00:00:03 2024\nS: 4\n\nlast"
	if string(raw) != want {
		t.Errorf("spool after the commit\n%q\nwant\n%q", raw, want)
	}
}

func TestCommitAfterSpoolVanished(t *testing.T) {
	m, dir := newTestStore(t)
	deliverNumbered(t, m, alice, 2)
	md := openSession(t, m, alice)
	if err := os.Remove(filepath.Join(dir, alice)); err != nil {
		t.Fatal(err)
	}
	if err := md.Commit(context.Background(), []int{0}); err != nil {
		t.Errorf("Commit after the spool was removed: %v", err)
	}
}

func TestCommitOutOfRange(t *testing.T) {
	m, _ := newTestStore(t)
	msgs := deliverNumbered(t, m, alice, 2)
	md := openSession(t, m, alice)
	if err := md.Commit(context.Background(), []int{0, 5}); err == nil {
		t.Error("Commit with an index out of range succeeded")
	}
	expectMessages(t, m, alice, msgs[1])
}
