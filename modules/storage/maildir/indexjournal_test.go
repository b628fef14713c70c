package maildir

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
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

// TestJournalReplay checks that an index with several journal records
// (additions, the removal of an added message and of a listed one)
// decodes to the listing the changes make, and that the chain stops at a
// record that does not follow from the state before it.
func TestJournalReplay(t *testing.T) {
	base := testListing(10)
	s0 := stamps{cur: dirStamp{1, 2, 3, 4, 5}}
	base.stamps, base.verified = s0, true
	files, msgs := base.expand()
	msg := func(n int) (file, storage.Message) {
		name := fmt.Sprintf("%d.M%dP1.new,W=5:2,", 1800000000+n, n)
		return file{dir: dirCur, name: name, base: baseOf(name)}, storage.Message{UID: baseOf(name), Size: 5}
	}
	a, am := msg(1)
	b, bm := msg(2)
	c, cm := msg(3)
	s1, s2, s3, s4 := s0, s0, s0, s0
	s1.cur.mtime, s2.cur.mtime, s3.cur.mtime, s4.cur.mtime = 10, 20, 30, 40
	recs := []*journalRecord{
		{from: s0, to: s1, addedFiles: []file{a, b}, addedMsgs: []storage.Message{am, bm}},
		{from: s1, to: s2, removed: []file{a, files[3]}},
		{from: s2, to: s3, addedFiles: []file{c}, addedMsgs: []storage.Message{cm}},
		{from: s0, to: s4, removed: []file{files[0]}}, // not from s3: ignored
	}
	data := encodeIndex(base)
	for _, j := range recs {
		data = append(data, j.encode()...)
	}
	got, err := decodeIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	wantF := append(slices.Clone(files[:3]), files[4:]...)
	wantM := append(slices.Clone(msgs[:3]), msgs[4:]...)
	wantF, wantM = append(wantF, b, c), append(wantM, bm, cm)
	gf, gm := got.expand()
	if !slices.Equal(gf, wantF) || !slices.Equal(gm, wantM) {
		t.Errorf("replayed listing\n%v\nwant\n%v", gm, wantM)
	}
	if got.stamps != s3 || got.verified {
		t.Errorf("replayed stamps %v verified %v, want %v unverified", got.stamps, got.verified, s3)
	}
	if want := int64(len(data) - len(recs[3].encode())); got.index.size != want {
		t.Errorf("good bytes %d, want %d", got.index.size, want)
	}
}
