package maildir

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestIndexTornAppend cuts the index file at every byte of its last
// journal record, as a crash in the middle of the append leaves it, and
// at each cut checks that the first login after a restart lists exactly
// what the uncached store lists, with every message there, and that no
// message file was changed by it. Garbage after a whole record, and a
// record that does not follow from the state before it, are ignored too.
func TestIndexTornAppend(t *testing.T) {
	m, root, ref, want := pollFixture(t, 8)
	good, _ := os.ReadFile(filepath.Join(root, IndexFileName))
	deliverNew(t, root, 100)
	want[100] = true
	openAndClose(t, m) // extends the listing, appends a record
	full, err := os.ReadFile(filepath.Join(root, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(full) <= len(good) || !bytes.Equal(full[:len(good)], good) {
		t.Fatalf("the index was not appended to: %d bytes, then %d", len(good), len(full))
	}
	files := func() []string {
		return append(names(t, filepath.Join(root, dirCur)), names(t, filepath.Join(root, dirNew))...)
	}
	before := files()
	check := func(t *testing.T, data []byte, wantIndexHit bool) {
		t.Helper()
		writeIndexFile(t, root, data)
		restart()
		c := readCounters()
		loginSame(t, m, ref, want).Close()
		if hit := c.since().indexHits > 0; hit != wantIndexHit {
			t.Errorf("served from the index: %v, want %v", hit, wantIndexHit)
		}
		if got := files(); !slices.Equal(got, before) {
			t.Fatalf("the message files changed: %q, want %q", got, before)
		}
	}
	for cut := len(good); cut < len(full); cut++ {
		// The state before the record is stale (cur/ changed since).
		check(t, full[:cut], false)
		if t.Failed() {
			t.Fatalf("at a cut %d bytes into the record", cut-len(good))
		}
	}
	t.Run("whole record", func(t *testing.T) { check(t, full, true) })
	t.Run("garbage after it", func(t *testing.T) {
		check(t, append(slices.Clone(full), "delta 5\nxx"...), true)
	})
	t.Run("a record that follows from another state", func(t *testing.T) {
		l, err := decodeIndex(full)
		if err != nil {
			t.Fatal(err)
		}
		j := &journalRecord{from: l.stamps, to: l.stamps, removed: []file{{dir: dirCur, name: "nope"}}}
		j.from.cur.size++
		check(t, append(slices.Clone(full), j.encode()...), true)
	})
	t.Run("a record removing a message that is not listed", func(t *testing.T) {
		l, err := decodeIndex(full)
		if err != nil {
			t.Fatal(err)
		}
		j := &journalRecord{from: l.stamps, to: l.stamps, removed: []file{{dir: dirCur, name: "nope"}}}
		check(t, append(slices.Clone(full), j.encode()...), false)
	})
}
