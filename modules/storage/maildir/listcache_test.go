package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

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
		{"unchanged", func(*testing.T, string, []string) {}, []string{"m0\n", "m1\n", "m2\n"}, true},
		{"delivered to new/", func(t *testing.T, root string, _ []string) {
			writeMaildirFile(t, root, dirNew, "1700000009.M9P9.host", []byte("m9\n"))
		}, []string{"m0\n", "m1\n", "m2\n", "m9\n"}, false},
		{"moved into cur/ by another reader", func(t *testing.T, root string, _ []string) {
			writeMaildirFile(t, root, dirCur, "1700000008.M8P8.host:2,S", []byte("m8\n"))
		}, []string{"m0\n", "m1\n", "m2\n", "m8\n"}, false},
		{"removed from cur/", func(t *testing.T, root string, cur []string) {
			if err := os.Remove(filepath.Join(root, dirCur, cur[1])); err != nil {
				t.Fatal(err)
			}
		}, []string{"m0\n", "m2\n"}, false},
		{"flags changed by an IMAP server", func(t *testing.T, root string, cur []string) {
			old := filepath.Join(root, dirCur, cur[0])
			if err := os.Rename(old, old+"RS"); err != nil {
				t.Fatal(err)
			}
		}, []string{"m0\n", "m1\n", "m2\n"}, false},
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
	// Every maildir gets three messages and a first login, which names
	// them in cur/; then they are left alone long enough to be cached.
	for i := range cases {
		root := filepath.Join(dir, user(i), "Maildir")
		for j := range 3 {
			writeMaildirFile(t, root, dirNew, fmt.Sprintf("170000000%d.M%dP1.host", j, j), fmt.Appendf(nil, "m%d\n", j))
		}
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

// TestListingCacheSkipsRecentChanges checks that a maildir changed within
// the clock granularity margin is listed again at the next login.
func TestListingCacheSkipsRecentChanges(t *testing.T) {
	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	writeMaildirFile(t, root, dirCur, "1700000000.M1P1.host,W=4:2,", []byte("a\n"))
	for range 2 {
		md, _ := openAlice(t, m, dir)
		md.Close()
	}
	listings.mu.Lock()
	_, cached := listings.byRoot[root]
	listings.mu.Unlock()
	if cached {
		t.Error("a maildir changed a moment ago was cached")
	}
}

// TestListingCacheBounded checks that the cache evicts listings to stay
// within its weight.
func TestListingCacheBounded(t *testing.T) {
	c := &listingCache{byRoot: map[string]*listing{}}
	big := &listing{msgs: make([]storage.Message, maxCachedListing-1)}
	for i := range 10 {
		c.put(fmt.Sprintf("/m/%d", i), big)
		if c.weight > maxCachedWeight {
			t.Fatalf("weight %d over %d after %d listings", c.weight, maxCachedWeight, i+1)
		}
	}
	c.put("/huge", &listing{msgs: make([]storage.Message, maxCachedListing)})
	if _, ok := c.byRoot["/huge"]; ok {
		t.Error("a listing over maxCachedListing was cached")
	}
	sum := 0
	for _, l := range c.byRoot {
		sum += l.weight()
	}
	if sum != c.weight {
		t.Errorf("weight %d, listings weigh %d", c.weight, sum)
	}
}
