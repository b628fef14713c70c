package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// TestListingCache checks that a login into a maildir that has not changed
// reuses the listing of the previous login, and that every change another
// program can make is seen by the very next login.
func TestListingCache(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, root string, cur []string)
		want   []string // message contents, in order
		hit    bool
	}{
		{"unchanged", func(*testing.T, string, []string) {}, []string{"m0\n", "m1\n", "m2\n", "m3\n"}, true},
		{"delivered to new/", func(t *testing.T, root string, _ []string) {
			writeMaildirFile(t, root, dirNew, "1700000009.M9P9.host", []byte("m9\n"))
		}, []string{"m0\n", "m1\n", "m2\n", "m3\n", "m9\n"}, false},
		{"moved into cur/ by another reader", func(t *testing.T, root string, _ []string) {
			writeMaildirFile(t, root, dirCur, "1700000008.M8P8.host:2,S", []byte("m8\n"))
		}, []string{"m0\n", "m1\n", "m2\n", "m3\n", "m8\n"}, false},
		{"removed from cur/", func(t *testing.T, root string, cur []string) {
			if err := os.Remove(filepath.Join(root, dirCur, cur[1])); err != nil {
				t.Fatal(err)
			}
		}, []string{"m0\n", "m2\n", "m3\n"}, false},
		{"flags changed by an IMAP server", func(t *testing.T, root string, cur []string) {
			old := filepath.Join(root, dirCur, cur[0])
			if err := os.Rename(old, old+"RS"); err != nil {
				t.Fatal(err)
			}
		}, []string{"m0\n", "m1\n", "m2\n", "m3\n"}, false},
		{"removed from new/", func(t *testing.T, root string, _ []string) {
			if err := os.Remove(filepath.Join(root, dirNew, names(t, filepath.Join(root, dirNew))[0])); err != nil {
				t.Fatal(err)
			}
		}, []string{"m0\n", "m1\n", "m2\n"}, false},
		{"moved from new/ into cur/ by an IMAP server", func(t *testing.T, root string, _ []string) {
			name := names(t, filepath.Join(root, dirNew))[0]
			if err := os.Rename(filepath.Join(root, dirNew, name), filepath.Join(root, dirCur, name+string(infoSep)+"2,S")); err != nil {
				t.Fatal(err)
			}
		}, []string{"m0\n", "m1\n", "m2\n", "m3\n"}, false},
		{"removed from new/ and another delivered", func(t *testing.T, root string, _ []string) {
			if err := os.Remove(filepath.Join(root, dirNew, names(t, filepath.Join(root, dirNew))[0])); err != nil {
				t.Fatal(err)
			}
			writeMaildirFile(t, root, dirNew, "1700000009.M9P9.host", []byte("m9\n"))
		}, []string{"m0\n", "m1\n", "m2\n", "m9\n"}, false},
	}

	m, dir := newTestStore(t)
	user := func(i int) string { return fmt.Sprintf("user%d", i) }
	open := func(t *testing.T, i int) *maildrop {
		t.Helper()
		md, err := m.Open(context.Background(), user(i))
		if err != nil {
			t.Fatal(err)
		}
		return md.(*maildrop)
	}
	// Every maildir gets three messages in cur/ (as a mail reader leaves
	// them), one in new/ (as delivered) and a first login; then they are
	// left alone long enough to be cached.
	for i := range cases {
		root := filepath.Join(dir, user(i), "Maildir")
		for j := range 3 {
			writeMaildirFile(t, root, dirCur, fmt.Sprintf("170000000%d.M%dP1.host%c2,", j, j, infoSep), fmt.Appendf(nil, "m%d\n", j))
		}
		writeMaildirFile(t, root, dirNew, "1700000003.M3P1.host", []byte("m3\n"))
		if err := open(t, i).Close(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(trustAfter + 100*time.Millisecond)

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(dir, user(i), "Maildir")
			first := open(t, i) // lists the maildir and caches the listing
			cached := slices.Clone(first.Messages())
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			tc.change(t, root, names(t, filepath.Join(root, dirCur)))

			hits := listings.hits.Load()
			md := open(t, i)
			defer md.Close()
			var got []string
			for j := range md.Messages() {
				got = append(got, string(content(t, md, j)))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("after the change, the maildrop holds %q, want %q", got, tc.want)
			}
			if hit := listings.hits.Load() > hits; hit != tc.hit {
				t.Errorf("served from the cache: %v, want %v", hit, tc.hit)
			}
			if tc.hit && !slices.Equal(md.Messages(), cached) {
				t.Errorf("cached listing %v differs from the first %v", md.Messages(), cached)
			}
		})
	}
}

// TestListingCacheSkipsRecentChanges checks that the listing of a maildir
// changed within the clock granularity margin is not trusted: it is
// checked against the directories' names at the next login.
func TestListingCacheSkipsRecentChanges(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	writeMaildirFile(t, root, dirCur, "1700000000.M1P1.host,W=4:2,", []byte("a\n"))
	for range 2 {
		md, _ := openAlice(t, m, dir)
		md.Close()
	}
	listings.mu.Lock()
	l := listings.byRoot[root]
	listings.mu.Unlock()
	if l != nil && l.verified {
		t.Error("a maildir changed a moment ago was cached as verified")
	}
}

// testListing returns a cached-form listing of n messages with typical
// names.
func testListing(n int) *listing {
	files := make([]file, n)
	msgs := make([]storage.Message, n)
	for i := range n {
		name := fmt.Sprintf("%d.M%dP%d.mx.example.net,S=2048,W=2080:2,S", 1700000000+i, i, 4000+i%1000)
		files[i] = file{dir: dirCur, name: name, base: baseOf(name)}
		msgs[i] = storage.Message{UID: files[i].base, Size: 2080}
	}
	return newListing(files, msgs)
}

// TestListingRoundTrip checks that the compact form of a listing gives
// back exactly the files and messages it was made of.
func TestListingRoundTrip(t *testing.T) {
	files := []file{
		{dir: dirCur, name: "1700000000.M1P1.host,W=10:2,S", base: "1700000000.M1P1.host"},
		{dir: dirNew, name: "1700000001.M2P1.host", base: "1700000001.M2P1.host"},
		{dir: dirCur, name: "1700000002.M3P1.host:2,", base: "1700000002.M3P1.host"},
		{dir: dirCur, name: "1700000003 bad base:2,", base: "1700000003 bad base"},
	}
	msgs := []storage.Message{
		{UID: "1700000000.M1P1.host", Size: 10},
		{UID: "1700000001.M2P1.host", Size: 1 << 40},
		{UID: "0000002a5f000001", Size: 0},
		{UID: hashUID("1700000003 bad base"), Size: 7},
	}
	l := newListing(files, msgs)
	if l == nil {
		t.Fatal("not cacheable")
	}
	gotFiles, gotMsgs := l.expand()
	if !slices.Equal(gotFiles, files) || !slices.Equal(gotMsgs, msgs) {
		t.Errorf("expanded to %v %v, want %v %v", gotFiles, gotMsgs, files, msgs)
	}
	long := []file{{dir: dirCur, name: strings.Repeat("x", 1<<16), base: "x"}}
	if newListing(long, []storage.Message{{UID: "x"}}) != nil {
		t.Error("a name over 65535 bytes was put in the compact form")
	}
}

// TestListingEntryCost checks that a cached message costs at most about
// 150 bytes of heap, measured, and that the cost the cache counts is not
// below what was allocated.
func TestListingEntryCost(t *testing.T) {
	const n = 50000
	files := make([]file, n)
	msgs := make([]storage.Message, n)
	for i := range n {
		name := fmt.Sprintf("%d.M%dP%d.mx.example.net,S=2048,W=2080:2,S", 1700000000+i, i, 4000+i%1000)
		files[i] = file{dir: dirCur, name: name, base: baseOf(name)}
		msgs[i] = storage.Message{UID: files[i].base, Size: 2080}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	l := newListing(files, msgs)
	runtime.ReadMemStats(&after)
	allocated := int64(after.TotalAlloc - before.TotalAlloc)
	t.Logf("%d messages: %d bytes allocated (%d per message), cost counted %d", n, allocated, allocated/n, l.cost())
	if allocated/n > 150 {
		t.Errorf("a cached message takes %d bytes, want at most 150", allocated/n)
	}
	if l.cost() < allocated*9/10 {
		t.Errorf("the cache counts %d bytes for a listing that allocated %d", l.cost(), allocated)
	}
}

// TestListingCacheEvictsLeastRecentlyUsed checks that the cache stays
// within its budget by dropping the maildirs used longest ago, and that a
// listing larger than the whole budget is not cached.
func TestListingCacheEvictsLeastRecentlyUsed(t *testing.T) {
	one := testListing(1000).cost()
	c := newListingCache(2*one + one/2) // room for two listings
	put := func(root string, n int) { c.put(root, "", testListing(n)) }
	cached := func(root string) bool { _, ok := c.byRoot[root]; return ok }
	put("/m/a", 1000)
	put("/m/b", 1000)
	if c.get("/m/a", "") == nil { // a is now the most recent
		t.Fatal("/m/a not served from the cache")
	}
	put("/m/c", 1000)
	if !cached("/m/a") || cached("/m/b") || !cached("/m/c") {
		t.Errorf("after using a, b, a, c with room for two: a %v b %v c %v, want a and c", cached("/m/a"), cached("/m/b"), cached("/m/c"))
	}
	put("/m/huge", 3000)
	if cached("/m/huge") {
		t.Error("a listing over the whole budget was cached")
	}
	var sum int64
	for _, l := range c.byRoot {
		sum += l.cost()
	}
	if sum != c.used || c.used > c.budget || c.lru.Len() != len(c.byRoot) {
		t.Errorf("used %d, listings cost %d, budget %d, %d in the LRU list for %d listings", c.used, sum, c.budget, c.lru.Len(), len(c.byRoot))
	}
	c.setBudget(one + one/2)
	if len(c.byRoot) != 1 || !cached("/m/c") {
		t.Errorf("after shrinking the budget to one listing, %d cached", len(c.byRoot))
	}
	c.setBudget(0)
	if len(c.byRoot) != 0 || c.used != 0 {
		t.Errorf("budget 0 still holds %d listings, %d bytes", len(c.byRoot), c.used)
	}
}

// TestListingCacheLarge checks that a maildir over the old fixed cap of
// 32,768 messages is served from the cache, that every change is still
// seen by the next login, and that each cached listing is exactly what a
// store without the cache (listing_cache_size off) lists.
func TestListingCacheLarge(t *testing.T) {
	const n = 40000
	m, dir := newTestStore(t)
	uncached := &Maildir{Path: m.Path, ListingCacheSize: ListingCacheOff}
	root := filepath.Join(dir, "alice", "Maildir")
	for _, d := range []string{dirCur, dirNew, dirTmp} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		name := fmt.Sprintf("%d.M%dP1.host,W=%d:2,S", 1700000000+i, i, len(strconv.Itoa(i))+2)
		if err := os.WriteFile(filepath.Join(root, dirCur, name), []byte(strconv.Itoa(i)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
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
		hits := listings.hits.Load()
		md := open(t, m)
		got := slices.Clone(md.Messages())
		gotFiles := slices.Clone(md.files)
		md.Close()
		if hit := listings.hits.Load() > hits; hit != wantHit {
			t.Errorf("served from the cache: %v, want %v", hit, wantHit)
		}
		hits = listings.hits.Load()
		ref := open(t, uncached)
		defer ref.Close()
		if listings.hits.Load() != hits {
			t.Error("a store with listing_cache_size off was served from the cache")
		}
		if len(got) != wantLen || !slices.Equal(got, ref.Messages()) || !slices.Equal(gotFiles, ref.files) {
			t.Errorf("login listed %d messages, want %d, identical to the uncached listing of %d", len(got), wantLen, len(ref.Messages()))
		}
	}
	open(t, m).Close()
	time.Sleep(trustAfter + 100*time.Millisecond)
	open(t, m).Close() // settled: cached now
	check(t, true, n)

	changes := []struct {
		name   string
		change func(t *testing.T)
		want   int
	}{
		{"delivered to new/", func(t *testing.T) {
			writeMaildirFile(t, root, dirNew, "1800000000.M1P1.host", []byte("new\n"))
		}, n + 1},
		{"removed from cur/", func(t *testing.T) {
			if err := os.Remove(filepath.Join(root, dirCur, fmt.Sprintf("%d.M%dP1.host,W=%d:2,S", 1700000007, 7, 3))); err != nil {
				t.Fatal(err)
			}
		}, n},
		{"flags changed by an IMAP server", func(t *testing.T) {
			old := filepath.Join(root, dirCur, fmt.Sprintf("%d.M%dP1.host,W=%d:2,S", 1700000009, 9, 3))
			if err := os.Rename(old, old+"R"); err != nil {
				t.Fatal(err)
			}
		}, n},
		{"dovecot-uidlist written", func(t *testing.T) {
			content := "3 V1700000000 N2\n1 1700000001.M1P1.host\n"
			if err := os.WriteFile(filepath.Join(root, DovecotUIDListName), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}, n},
	}
	for _, tc := range changes {
		t.Run(tc.name, func(t *testing.T) {
			tc.change(t)
			check(t, false, tc.want)
			time.Sleep(trustAfter + 100*time.Millisecond)
			open(t, m).Close() // settled again: cached
			check(t, true, tc.want)
		})
	}
}

// TestProvisionListingCacheSize checks that listing_cache_size sets the
// budget of the shared cache, that off leaves it alone, and that a
// negative JSON value other than -1 is an error naming the field.
func TestProvisionListingCacheSize(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	defer listings.setBudget(DefaultListingCacheSize)
	for _, tc := range []struct {
		size   int64
		ok     bool
		budget int64
	}{
		{1 << 20, true, 1 << 20},
		{ListingCacheOff, true, 1 << 20},
		{0, true, DefaultListingCacheSize},
		{-5, false, DefaultListingCacheSize},
	} {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		m := Maildir{ListingCacheSize: tc.size}
		err := m.Provision(ctx)
		cancel()
		if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "listing_cache_size")) {
			t.Errorf("listing_cache_size %d: error %v", tc.size, err)
		}
		listings.mu.Lock()
		budget := listings.budget
		listings.mu.Unlock()
		if budget != tc.budget {
			t.Errorf("after listing_cache_size %d the budget is %d, want %d", tc.size, budget, tc.budget)
		}
	}
}
