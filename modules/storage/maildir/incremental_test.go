package maildir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// counters is a snapshot of the listing counters.
type counters struct {
	full, incremental, verified, own, hits, indexHits, rewrites, appends, sizeReads int64
}

func readCounters() counters {
	return counters{
		full: fullListings.Load(), incremental: incrementalListings.Load(), verified: verifiedListings.Load(),
		own: ownChangeListings.Load(), hits: listings.hits.Load(), indexHits: indexHits.Load(),
		rewrites: indexRewrites.Load(), appends: indexAppends.Load(), sizeReads: sizeReads.Load(),
	}
}

// since returns how each counter moved since c.
func (c counters) since() counters {
	n := readCounters()
	return counters{n.full - c.full, n.incremental - c.incremental, n.verified - c.verified, n.own - c.own,
		n.hits - c.hits, n.indexHits - c.indexHits, n.rewrites - c.rewrites, n.appends - c.appends, n.sizeReads - c.sizeReads}
}

// mailMessage is message n of a test: a Message-ID, and a body that
// differs per message.
func mailMessage(n int) []byte {
	return fmt.Appendf(nil, "Message-ID: <%d@incremental.test>\nSubject: %d\n\nbody of %d\n", n, n, n)
}

var messageIDRe = regexp.MustCompile(`Message-ID: <([^>]+)>`)

// inventoryOf logs into md's maildrop and returns Message-ID -> SHA-256 of
// every message, failing on a duplicate Message-ID or UIDL.
func inventoryOf(t *testing.T, md storage.Maildrop) map[string][32]byte {
	t.Helper()
	inv := map[string][32]byte{}
	uids := map[string]bool{}
	for i, m := range md.Messages() {
		if uids[m.UID] {
			t.Errorf("UIDL %q shown twice", m.UID)
		}
		uids[m.UID] = true
		b := content(t, md, i)
		id := messageIDRe.FindSubmatch(b)
		if id == nil {
			t.Fatalf("message %d has no Message-ID: %q", i+1, b)
		}
		if _, dup := inv[string(id[1])]; dup {
			t.Errorf("message %s listed twice", id[1])
		}
		inv[string(id[1])] = sha256.Sum256(b)
	}
	return inv
}

// expectInventory fails unless got is exactly the messages want (by
// number) with their contents: 0 lost, 0 duplicated, 0 corrupted, 0
// wrongly deleted.
func expectInventory(t *testing.T, got map[string][32]byte, want map[int]bool) {
	t.Helper()
	var lost, corrupted, extra int
	for n := range want {
		id := fmt.Sprintf("%d@incremental.test", n)
		sum, ok := got[id]
		switch {
		case !ok:
			lost++
		case sum != sha256.Sum256(mailMessage(n)):
			corrupted++
		}
	}
	for id := range got {
		var n int
		if _, err := fmt.Sscanf(id, "%d@incremental.test", &n); err != nil || !want[n] {
			extra++
		}
	}
	if lost+corrupted+extra != 0 {
		t.Errorf("inventory: %d lost, %d corrupted, %d not delivered or deleted but listed (of %d)", lost, corrupted, extra, len(want))
	}
}

// pollFixture makes alice's maildir with n messages in cur/ (sizes in
// their names), settled, listed once (cached and indexed, verified). It
// returns the store, the maildir, a store without cache or index to
// compare with, and the messages there by number.
func pollFixture(t *testing.T, n int) (*Maildir, string, *Maildir, map[int]bool) {
	t.Helper()
	m, dir := newTestStore(t)
	ref := &Maildir{Path: m.Path, ListingCacheSize: ListingCacheOff}
	root := filepath.Join(dir, "alice", "Maildir")
	want := map[int]bool{}
	for i := range n {
		body := mailMessage(i)
		writeMaildirFile(t, root, dirCur, fmt.Sprintf("%d.M%dP1.host,W=%d:2,S", 1700000000+i, i, len(body)+3), body)
		want[i] = true
	}
	time.Sleep(trustAfter + 100*time.Millisecond)
	openAndClose(t, m)
	return m, root, ref, want
}

// deliverNew puts message n into new/ as an MTA does.
func deliverNew(t *testing.T, root string, n int) {
	t.Helper()
	writeMaildirFile(t, root, dirNew, fmt.Sprintf("%d.M%dQ%d.mta", 1800000000+n, n, n), mailMessage(n))
}

// loginSame logs in through m and through ref and checks that both list
// the same files and messages, and the inventory want; it returns m's
// maildrop, open.
func loginSame(t *testing.T, m, ref *Maildir, want map[int]bool) *maildrop {
	t.Helper()
	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	got, gotFiles := slices.Clone(md.Messages()), slices.Clone(md.(*maildrop).files)
	expectInventory(t, inventoryOf(t, md), want)
	md.Close()
	r, err := ref.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, r.Messages()) || !slices.Equal(gotFiles, r.(*maildrop).files) {
		t.Errorf("listed %v %v, want what the uncached listing gives, %v %v", got, gotFiles, r.Messages(), r.(*maildrop).files)
	}
	r.Close()
	md, err = m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return md.(*maildrop)
}

// indexListing decodes the maildir's index file, failing when there is
// none or it is damaged.
func indexListing(t *testing.T, root string) (*listing, os.FileInfo) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(root, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	l, err := decodeIndex(data)
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	return l, fi
}

// TestIncrementalListingAfterDelivery checks the poll that finds one
// delivery in new/: only new/ is read, the cached listing is extended,
// and the index file gets the change appended, not rewritten whole; the
// listing is what the uncached store lists and nothing is lost.
func TestIncrementalListingAfterDelivery(t *testing.T) {
	m, root, ref, want := pollFixture(t, 30)
	_, before := indexListing(t, root)
	deliverNew(t, root, 100)
	want[100] = true

	c := readCounters()
	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(md.Messages())
	md.Close()
	d := c.since()
	if d.full != 0 || d.incremental != 1 {
		t.Errorf("after one delivery: %d full listings and %d incremental, want 0 and 1", d.full, d.incremental)
	}
	if d.rewrites != 0 || d.appends != 1 {
		t.Errorf("after one delivery the index was rewritten %d times and appended to %d, want 0 and 1", d.rewrites, d.appends)
	}
	l, after := indexListing(t, root)
	if !os.SameFile(before, after) || after.Size() <= before.Size() || after.Size()-before.Size() > 1024 {
		t.Errorf("index file went from %d to %d bytes (same file: %v), want a small append", before.Size(), after.Size(), os.SameFile(before, after))
	}
	st, err := (&maildrop{root: root}).readStamps()
	if err != nil {
		t.Fatal(err)
	}
	if files, msgs := l.expand(); l.stamps != st || !slices.Equal(msgs, got) || len(files) != 31 {
		t.Errorf("the index holds %d messages with stamps %v, want the login's %d with the maildir's %v", len(files), l.stamps, len(got), st)
	}
	loginSame(t, m, ref, want).Close()
	// After a restart, the index with its journal serves the login.
	restart()
	c = readCounters()
	loginSame(t, m, ref, want).Close()
	if d := c.since(); d.indexHits != 1 || d.full != 0 {
		t.Errorf("after a restart: %d index hits, %d full listings, want 1 and 0", d.indexHits, d.full)
	}
}

// TestOwnChangesKeepListingCached checks that a listing extended right
// after a delivery (new/ changed a moment ago, so its stamp cannot prove
// it) and our own deletions (Commit) leave a listing the next login uses
// without listing the maildir: first checked against the names in the
// directories, then, once the stamps are settled, trusted.
func TestOwnChangesKeepListingCached(t *testing.T) {
	m, root, ref, want := pollFixture(t, 20)
	deliverNew(t, root, 100)
	want[100] = true
	openAndClose(t, m) // extends the listing with the delivery, left in new/
	if got := names(t, filepath.Join(root, dirNew)); len(got) != 1 {
		t.Errorf("new/ holds %q after the login, want the delivery left where it is", got)
	}

	c := readCounters()
	loginSame(t, m, ref, want).Close() // two logins through m, right after the delivery
	if d := c.since(); d.full != 0 || d.verified == 0 {
		t.Errorf("the polls right after a delivery: %d full listings, %d verified by names; want 0 and some", d.full, d.verified)
	}
	time.Sleep(2 * fineTrustAfter)
	openAndClose(t, m) // verified again, now settled
	c = readCounters()
	openAndClose(t, m)
	if d := c.since(); d.hits != 1 || d.full != 0 || d.verified != 0 {
		t.Errorf("a poll after a delivery once settled: %d cache hits, %d full listings, %d checked; want 1, 0, 0", d.hits, d.full, d.verified)
	}

	// Commit deletes messages 3 and 100.
	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	var del []int
	for i := range md.Messages() {
		b := content(t, md, i)
		if bytes.Contains(b, []byte("<3@")) || bytes.Contains(b, []byte("<100@")) {
			del = append(del, i)
		}
	}
	if len(del) != 2 {
		t.Fatalf("found %d of the 2 messages to delete", len(del))
	}
	c = readCounters()
	if err := md.Commit(context.Background(), del); err != nil {
		t.Fatal(err)
	}
	delete(want, 3)
	delete(want, 100)
	loginSame(t, m, ref, want).Close()
	if d := c.since(); d.full != 0 || d.own != 1 || d.appends != 1 || d.rewrites != 0 {
		t.Errorf("after our own deletions: %d full listings, %d own-change listings, index %d appends %d rewrites; want 0, 1, 1, 0", d.full, d.own, d.appends, d.rewrites)
	}
}

// TestUnverifiedListingCheckedByNames checks that a listing cached after
// our own changes is not trusted on its stamps: when the directory holds
// other names than the listing (another program's change in the same
// clock tick as ours, which the stamps cannot show, simulated by editing
// the cached listing), the next login lists the maildir.
func TestUnverifiedListingCheckedByNames(t *testing.T) {
	for _, which := range []string{"one missing", "one extra"} {
		t.Run(which, func(t *testing.T) {
			m, root, ref, want := pollFixture(t, 10)
			deliverNew(t, root, 100)
			want[100] = true
			openAndClose(t, m)
			listings.mu.Lock()
			l := listings.byRoot[root]
			listings.mu.Unlock()
			if l == nil || l.verified {
				t.Fatalf("right after a delivery: cached %v, want an unverified listing", l != nil)
			}
			files, msgs := l.expand()
			if which == "one missing" {
				files, msgs = files[1:], msgs[1:]
			} else {
				files = append(files, file{dir: dirCur, name: "1900000000.M1P1.ghost,W=3:2,", base: "1900000000.M1P1.ghost"})
				msgs = append(msgs, storage.Message{UID: "1900000000.M1P1.ghost", Size: 3})
			}
			forged := newListing(files, msgs).with(l.stamps, false)
			listings.put(root, l.format, forged)
			c := readCounters()
			md := loginSame(t, m, ref, want)
			md.Close()
			if d := c.since(); d.full == 0 {
				t.Error("a listing whose names differ from the directory's was used")
			}
		})
	}
}

// TestIncrementalFallsBack checks the changes extend must leave to a full
// listing, which then lists what the uncached store does.
func TestIncrementalFallsBack(t *testing.T) {
	cases := map[string]func(t *testing.T, root string){
		"second name of a listed file in new/": func(t *testing.T, root string) {
			cur := names(t, filepath.Join(root, dirCur))[0]
			base, fields, _ := splitName(cur)
			if err := os.Link(filepath.Join(root, dirCur, cur), filepath.Join(root, dirNew, base+fields)); err != nil {
				t.Fatal(err)
			}
		},
		"same base as a listed message": func(t *testing.T, root string) {
			cur := names(t, filepath.Join(root, dirCur))[0]
			writeMaildirFile(t, root, dirNew, baseOf(cur)+",X=1", mailMessage(100))
		},
		"dovecot-uidlist": func(t *testing.T, root string) {
			if err := os.WriteFile(filepath.Join(root, DovecotUIDListName), []byte("3 V1 N1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			deliverNew(t, root, 100)
		},
		"a rename in cur/ too": func(t *testing.T, root string) {
			cur := names(t, filepath.Join(root, dirCur))[1]
			if err := os.Rename(filepath.Join(root, dirCur, cur), filepath.Join(root, dirCur, cur+"R")); err != nil {
				t.Fatal(err)
			}
			deliverNew(t, root, 100)
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			m, root, ref, want := pollFixture(t, 10)
			change(t, root)
			if _, err := os.Lstat(filepath.Join(root, dirNew)); err == nil && name != "second name of a listed file in new/" {
				want[100] = true
			}
			c := readCounters()
			loginSame(t, m, ref, want).Close()
			if d := c.since(); d.incremental != 0 || d.full == 0 {
				t.Errorf("%d incremental and %d full listings, want 0 and some", d.incremental, d.full)
			}
		})
	}
}

// TestIncrementalConcurrentDeliveries polls a maildir, deleting a message
// now and then, while deliveries arrive through Deliver and another
// program changes flags in cur/: every message delivered is there exactly
// once with its content, except those our sessions deleted; every login
// lists valid, unique UIDLs; at the end the cached listing is the
// uncached one.
func TestIncrementalConcurrentDeliveries(t *testing.T) {
	m, root, ref, want := pollFixture(t, 50)
	const deliveries = 120
	var wg sync.WaitGroup
	errs := make(chan error, deliveries+10)
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(stop)
		for n := 1000; n < 1000+deliveries; n++ {
			if err := m.Deliver(context.Background(), "alice", storage.Envelope{}, bytes.NewReader(mailMessage(n))); err != nil {
				errs <- err
			}
			if n%10 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	go func() { // an IMAP server setting the Seen flag
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			entries, err := os.ReadDir(filepath.Join(root, dirCur))
			if err != nil || len(entries) == 0 {
				continue
			}
			e := entries[(i*7)%len(entries)]
			old := filepath.Join(root, dirCur, e.Name())
			if _, _, info := splitName(e.Name()); info != "" && !bytes.ContainsRune([]byte(info), 'F') {
				_ = os.Rename(old, old+"F") // may lose to our own deletion: fine
			}
			time.Sleep(3 * time.Millisecond)
		}
	}()
	deleted := map[int]bool{}
	for poll := 0; poll < 400; poll++ {
		select {
		case <-stop:
			poll = 400
		default:
		}
		md, err := m.Open(context.Background(), "alice")
		if errors.Is(err, storage.ErrInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		var del []int
		for i, msg := range md.Messages() {
			if !validUID(msg.UID) || seen[msg.UID] {
				t.Errorf("poll %d: UIDL %q invalid or shown twice", poll, msg.UID)
			}
			seen[msg.UID] = true
			if poll%25 == 3 && len(del) == 0 && i == poll%len(md.Messages()) {
				b := content(t, md, i)
				var n int
				if id := messageIDRe.FindSubmatch(b); id != nil {
					if _, err := fmt.Sscanf(string(id[1]), "%d@", &n); err == nil {
						deleted[n] = true
						del = append(del, i)
					}
				}
			}
		}
		if err := md.Commit(context.Background(), del); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Deliver: %v", err)
	}
	for n := 1000; n < 1000+deliveries; n++ {
		want[n] = true
	}
	for n := range deleted {
		delete(want, n)
	}
	loginSame(t, m, ref, want).Close()
	time.Sleep(2 * fineTrustAfter)
	loginSame(t, m, ref, want).Close()
	t.Logf("%d deleted by our sessions; %+v", len(deleted), readCounters())
}

// TestIncrementalWithDovecotUIDList checks the poll after a delivery into
// a maildir migrated from Dovecot: the unchanged dovecot-uidlist does not
// force a full listing, a delivered message that it names gets the UIDL
// Dovecot showed (as a full listing gives it), one it does not name gets
// its base name; after our own deletions the next delivery is listed
// whole again (which messages the uidlist names is then not known).
func TestIncrementalWithDovecotUIDList(t *testing.T) {
	m, dir := newTestStore(t)
	ref := &Maildir{Path: m.Path, ListingCacheSize: ListingCacheOff}
	root := filepath.Join(dir, "alice", "Maildir")
	want := map[int]bool{}
	uidlist := "3 V1700000000 N20\n"
	for i := range 5 {
		body := mailMessage(i)
		name := fmt.Sprintf("%d.M%dP1.host,W=%d:2,S", 1700000000+i, i, len(body)+3)
		writeMaildirFile(t, root, dirCur, name, body)
		uidlist += fmt.Sprintf("%d :%s\n", i+1, name)
		want[i] = true
	}
	uidlist += "17 :1800000100.M100Q100.mta\n" // served by Dovecot, then moved away, now back
	if err := os.WriteFile(filepath.Join(root, DovecotUIDListName), []byte(uidlist), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(trustAfter + 100*time.Millisecond)
	openAndClose(t, m)

	for _, n := range []int{100, 101} {
		deliverNew(t, root, n)
		want[n] = true
		c := readCounters()
		md := loginSame(t, m, ref, want)
		var uid string
		for i, msg := range md.Messages() {
			if bytes.Contains(content(t, md, i), fmt.Appendf(nil, "<%d@", n)) {
				uid = msg.UID
			}
		}
		md.Close()
		if d := c.since(); d.incremental != 1 || d.full != 0 {
			t.Errorf("delivery %d: %d incremental and %d full listings, want 1 and 0", n, d.incremental, d.full)
		}
		wantUID := fmt.Sprintf("%d.M%dQ%d.mta", 1800000000+n, n, n)
		if n == 100 {
			wantUID = fmt.Sprintf("%08x%08x", 17, 1700000000)
		}
		if uid != wantUID {
			t.Errorf("delivery %d got UIDL %q, want %q", n, uid, wantUID)
		}
	}

	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := md.Commit(context.Background(), []int{0}); err != nil {
		t.Fatal(err)
	}
	delete(want, 0)
	deliverNew(t, root, 102)
	want[102] = true
	c := readCounters()
	loginSame(t, m, ref, want).Close()
	if d := c.since(); d.incremental != 0 || d.full != 1 {
		t.Errorf("after our deletions: %d incremental and %d full listings, want 0 and 1", d.incremental, d.full)
	}
}

// TestMailLeftInNew checks a maildir whose mail a delivery agent left in
// new/ without sizes in the names (Postfix): logins rename nothing, a
// poll after a delivery extends the listing and reads only the new
// messages, and a full listing (another program moved or removed mail,
// before or after a restart) takes the sizes it knows from the earlier
// listing or the index instead of reading every message again. Every
// login lists what the uncached store does, and nothing is lost.
func TestMailLeftInNew(t *testing.T) {
	m, dir := newTestStore(t)
	ref := &Maildir{Path: m.Path, ListingCacheSize: ListingCacheOff}
	root := filepath.Join(dir, "alice", "Maildir")
	want := map[int]bool{}
	for i := range 30 {
		deliverNew(t, root, i)
		want[i] = true
	}
	time.Sleep(trustAfter + 100*time.Millisecond)
	c := readCounters()
	openAndClose(t, m)
	if d := c.since(); d.full != 1 || d.sizeReads != 30 {
		t.Errorf("first login: %d full listings, %d messages read for their size; want 1, 30", d.full, d.sizeReads)
	}
	if got := names(t, filepath.Join(root, dirNew)); len(got) != 30 {
		t.Errorf("new/ holds %d messages after the first login, want all 30 left there", len(got))
	}

	step := func(what string, change func(), wantFull, wantIncremental, wantReads int64) {
		t.Helper()
		change()
		c := readCounters()
		openAndClose(t, m)
		d := c.since()
		loginSame(t, m, ref, want).Close()
		if d.full != wantFull || d.incremental != wantIncremental || d.sizeReads != wantReads {
			t.Errorf("%s: %d full listings, %d incremental, %d messages read for their size; want %d, %d, %d",
				what, d.full, d.incremental, d.sizeReads, wantFull, wantIncremental, wantReads)
		}
	}
	step("two deliveries", func() {
		deliverNew(t, root, 100)
		deliverNew(t, root, 101)
		want[100], want[101] = true, true
	}, 0, 1, 2)
	step("an IMAP server moved one into cur/", func() {
		name := names(t, filepath.Join(root, dirNew))[3]
		if err := os.Rename(filepath.Join(root, dirNew, name), filepath.Join(root, dirCur, name+string(infoSep)+"2,S")); err != nil {
			t.Fatal(err)
		}
	}, 1, 0, 1) // the moved one has a new name
	step("restart, another program removed one from new/", func() {
		restart()
		name := names(t, filepath.Join(root, dirNew))[5]
		if err := os.Remove(filepath.Join(root, dirNew, name)); err != nil {
			t.Fatal(err)
		}
		var n int
		if _, err := fmt.Sscanf(name, "%d.", &n); err != nil {
			t.Fatal(err)
		}
		delete(want, n-1800000000)
	}, 1, 0, 0) // sizes from the index

	// Our own deletion of a message in new/: the next login does not
	// list the maildir.
	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	var del []int
	for i := range md.Messages() {
		if bytes.Contains(content(t, md, i), []byte("<100@")) {
			del = append(del, i)
		}
	}
	if len(del) != 1 || md.(*maildrop).files[del[0]].dir != dirNew {
		t.Fatalf("message 100: %v, want one message in new/", del)
	}
	if err := md.Commit(context.Background(), del); err != nil {
		t.Fatal(err)
	}
	delete(want, 100)
	step("our own deletion from new/", func() {}, 0, 0, 0)
}
