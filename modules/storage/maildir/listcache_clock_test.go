package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestListingCacheClockStep checks the listing cache and the index file
// against a clock stepped backwards, simulated with os.Chtimes: a
// directory stamped later than now is never cached (nor written to the
// index), and a maildir changed after the step with a directory mtime
// equal to the cached one (its ctime, set by the kernel, still differs)
// is listed again, from neither the cache nor the index. Every login
// lists exactly what a store without the cache lists.
func TestListingCacheClockStep(t *testing.T) {
	const n = 5
	m, dir := newTestStore(t)
	uncached := &Maildir{Path: m.Path, ListingCacheSize: ListingCacheOff}
	root := filepath.Join(dir, "alice", "Maildir")
	for i := range n {
		writeMaildirFile(t, root, dirCur, fmt.Sprintf("%d.M%dP1.host,W=3:2,S", 1700000000+i, i), []byte(fmt.Sprintf("%d\n", i)))
	}
	open := func(t *testing.T, s *Maildir) *maildrop {
		t.Helper()
		md, err := s.Open(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		return md.(*maildrop)
	}
	// check logs in through the cache and without it and compares them.
	check := func(t *testing.T, wantHit bool, wantLen int) {
		t.Helper()
		hits, idx := listings.hits.Load(), indexHits.Load()
		md := open(t, m)
		got, gotFiles := slices.Clone(md.Messages()), slices.Clone(md.files)
		md.Close()
		hit := listings.hits.Load() > hits || indexHits.Load() > idx
		if hit != wantHit {
			t.Errorf("served from the cache or index: %v, want %v", hit, wantHit)
		}
		ref := open(t, uncached)
		defer ref.Close()
		if len(got) != wantLen || !slices.Equal(got, ref.Messages()) || !slices.Equal(gotFiles, ref.files) {
			t.Errorf("login listed %v, want %d messages, identical to the uncached listing %v", got, wantLen, ref.Messages())
		}
	}
	setTimes := func(t *testing.T, mt time.Time) {
		t.Helper()
		for _, d := range []string{dirCur, dirNew} {
			if err := os.Chtimes(filepath.Join(root, d), mt, mt); err != nil {
				t.Fatal(err)
			}
		}
	}
	cached := func() bool {
		listings.mu.Lock()
		defer listings.mu.Unlock()
		_, ok := listings.byRoot[root]
		return ok
	}

	// Stamped an hour ahead of now (as by a clock later stepped back):
	// the ctimes settle, the mtimes stay in the future.
	setTimes(t, time.Now().Add(time.Hour))
	time.Sleep(trustAfter + 100*time.Millisecond)
	for range 2 {
		check(t, false, n)
	}
	if cached() {
		t.Error("a maildir whose directories have a future mtime was cached")
	}
	if _, err := os.Lstat(filepath.Join(root, IndexFileName)); err == nil {
		t.Error("a maildir whose directories have a future mtime was written to the index")
	}

	// Stamped in the past and settled: cached and indexed.
	setTimes(t, time.Now().Add(-time.Hour))
	time.Sleep(trustAfter + 100*time.Millisecond)
	open(t, m).Close()
	check(t, true, n)
	if !cached() {
		t.Fatal("a settled maildir was not cached")
	}
	stCur, err := os.Stat(filepath.Join(root, dirCur))
	if err != nil {
		t.Fatal(err)
	}
	stNew, err := os.Stat(filepath.Join(root, dirNew))
	if err != nil {
		t.Fatal(err)
	}

	// After the step: a delivery and a flag change, each directory then
	// given back exactly its cached mtime. Only the ctimes tell.
	writeMaildirFile(t, root, dirNew, "1800000000.M1P1.host", []byte("new\n"))
	old := filepath.Join(root, dirCur, "1700000002.M2P1.host,W=3:2,S")
	if err := os.Rename(old, old+"R"); err != nil {
		t.Fatal(err)
	}
	for d, st := range map[string]os.FileInfo{dirCur: stCur, dirNew: stNew} {
		if err := os.Chtimes(filepath.Join(root, d), st.ModTime(), st.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	check(t, false, n+1)
	// The same with only the index left (as after a restart).
	listings.mu.Lock()
	listings.dropLocked(root)
	listings.mu.Unlock()
	writeMaildirFile(t, root, dirNew, "1800000001.M1P1.host", []byte("newer\n"))
	if err := os.Chtimes(filepath.Join(root, dirNew), stNew.ModTime(), stNew.ModTime()); err != nil {
		t.Fatal(err)
	}
	check(t, false, n+2)
}
