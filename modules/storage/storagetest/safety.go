package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// testDeliverDuringCommit runs deliveries from several goroutines while a
// session commits its deletions (a writer that waits for the lock, or one
// that races with the commit): afterwards the kept messages are intact,
// the deleted ones gone, and every delivered message is there exactly
// once.
func (s suite) testDeliverDuringCommit(t *testing.T) {
	const rounds, writers, perWriter = 3, 3, 4
	for round := range rounds {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			f, d := s.fixture(t)
			old := numbered(fmt.Sprint("old ", round), 6)
			for _, m := range old {
				deliver(t, d, alice, m)
			}
			md := open(t, f.Store, alice)
			var (
				wg      sync.WaitGroup
				started sync.WaitGroup
				mu      sync.Mutex
				errs    []error
			)
			var fresh [][]byte
			for w := range writers {
				msgs := numbered(fmt.Sprintf("round %d writer %d", round, w), perWriter)
				fresh = append(fresh, msgs...)
				started.Add(1)
				wg.Go(func() {
					started.Done()
					for _, m := range msgs {
						if err := d.Deliver(context.Background(), alice, storage.Envelope{}, bytes.NewReader(m)); err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
						}
					}
				})
			}
			started.Wait()
			if err := md.Commit(context.Background(), []int{0, 2, 4}); err != nil {
				t.Errorf("Commit during deliveries: %v", err)
			}
			wg.Wait()
			for _, err := range errs {
				t.Errorf("Deliver during a commit: %v", err)
			}

			v := look(t, f.Store, alice)
			checkListing(t, v)
			want := [][]byte{old[1], old[3], old[5]}
			if len(v.contents) < len(want) {
				t.Fatalf("maildrop has %d messages, want %d", len(v.contents), len(want)+len(fresh))
			}
			expectContents(t, v.contents[:len(want)], want)
			inventory(t, v.contents[len(want):], fresh)
		})
	}
}

// inventory fails the test unless got holds every message of want exactly
// once, in any order, and nothing else.
func inventory(t *testing.T, got, want [][]byte) {
	t.Helper()
	count := make(map[string]int, len(want))
	for _, m := range want {
		count[string(m)]++
	}
	for _, m := range got {
		count[string(m)]--
	}
	var lost, extra int
	for m, n := range count {
		switch {
		case n > 0:
			lost += n
			t.Errorf("message %q is lost", m)
		case n < 0:
			extra -= n
			t.Errorf("message %q is there %d more times than delivered", m, -n)
		}
	}
	if lost != 0 || extra != 0 {
		t.Errorf("inventory: %d lost, %d duplicated or unknown", lost, extra)
	}
}

// testUIDLIdentical checks that identical messages keep the UIDLs they
// were first shown with when one of them is deleted, and that a new copy
// gets a UIDL never shown before.
func (s suite) testUIDLIdentical(t *testing.T) {
	s.forEachDeliverer(t, func(t *testing.T, f Fixture, deliver func(*testing.T, string, []byte)) {
		same := []byte("Subject: again\n\nthe same bytes every time\n")
		others := numbered("identical", 2)
		for _, m := range [][]byte{others[0], same, same, same, others[1]} {
			deliver(t, alice, m)
		}
		first := look(t, f.Store, alice)
		checkListing(t, first)
		if len(first.msgs) != 5 {
			t.Fatalf("maildrop has %d messages, want 5", len(first.msgs))
		}
		shown := uids(first.msgs)

		md := open(t, f.Store, alice)
		if err := md.Commit(context.Background(), []int{1}); err != nil { // the first copy
			t.Fatalf("Commit: %v", err)
		}
		second := look(t, f.Store, alice)
		checkListing(t, second)
		if want := []string{shown[0], shown[2], shown[3], shown[4]}; !slices.Equal(uids(second.msgs), want) {
			t.Fatalf("UIDLs after deleting the first of three identical messages: %q, want %q", uids(second.msgs), want)
		}

		deliver(t, alice, same)
		third := look(t, f.Store, alice)
		checkListing(t, third)
		if len(third.msgs) != 5 {
			t.Fatalf("maildrop has %d messages, want 5", len(third.msgs))
		}
		if got, want := uids(third.msgs[:4]), uids(second.msgs); !slices.Equal(got, want) {
			t.Errorf("UIDLs after another copy was delivered: %q, want %q", got, want)
		}
		if uid := third.msgs[4].UID; slices.Contains(shown, uid) {
			t.Errorf("a new copy got the UIDL %q, which another message was shown with", uid)
		}
		expectContents(t, third.contents, [][]byte{others[0], same, same, others[1], same})

		// Another program removes the first copy left: the other copies
		// still keep theirs.
		if f.Remove == nil {
			return
		}
		f.Remove(t, alice, third.msgs[1].UID)
		fourth := look(t, f.Store, alice)
		checkListing(t, fourth)
		if want := []string{third.msgs[0].UID, third.msgs[2].UID, third.msgs[3].UID, third.msgs[4].UID}; !slices.Equal(uids(fourth.msgs), want) {
			t.Errorf("UIDLs after another program removed a copy: %q, want %q", uids(fourth.msgs), want)
		}
	})
}

// testVanished checks that a message another program removed during the
// session is reported as gone (storage.ErrGone), so that the client is
// not invited to try again forever, or is still served from the snapshot
// byte for byte; and that the other messages are unaffected.
func (s suite) testVanished(t *testing.T) {
	f, d := s.fixture(t)
	if f.Remove == nil {
		t.Skip("fixture has no Remove hook")
	}
	msgs := numbered("gone", 3)
	for _, m := range msgs {
		deliver(t, d, alice, m)
	}
	md := open(t, f.Store, alice)
	defer md.Close()
	f.Remove(t, alice, md.Messages()[1].UID)
	rc, err := md.Open(context.Background(), 1)
	switch {
	case err == nil:
		b, rerr := io.ReadAll(rc)
		rc.Close()
		if rerr != nil || !bytes.Equal(b, msgs[1]) {
			t.Errorf("a removed message was served as %q (read error %v); want storage.ErrGone or the original bytes", b, rerr)
		}
	case !errors.Is(err, storage.ErrGone):
		t.Errorf("Open of a removed message: %v, want an error wrapping storage.ErrGone", err)
	}
	for _, i := range []int{0, 2} {
		if got := read(t, md, i); !bytes.Equal(got, msgs[i]) {
			t.Errorf("message %d: %q, want %q", i, got, msgs[i])
		}
	}
}

// openWait bounds how long testNonRegular waits for Open before it
// declares it blocked: Open must never wait for anything, so this only
// ends a test that found the bug instead of hanging.
const openWait = 20 * time.Second

// testNonRegular puts a symbolic link (to a file of the test's own that
// stands for /etc/shadow), a FIFO or a directory in the place of a listed
// message during a session: Open must answer storage.ErrGone at once,
// never serve the link's target, never block; the other messages are
// served; a commit that deletes the replaced message succeeds and leaves
// the link's target alone.
func (s suite) testNonRegular(t *testing.T) {
	for _, kind := range []NonMessage{Symlink, FIFO, Directory} {
		t.Run(kind.String(), func(t *testing.T) {
			f, d := s.fixture(t)
			if f.Replace == nil {
				t.Skip("fixture has no Replace hook")
			}
			secret := []byte("root:$y$j9T$secret-hash:19000:0:99999:7:::\n")
			target := filepath.Join(t.TempDir(), "shadow")
			if err := os.WriteFile(target, secret, 0o600); err != nil {
				t.Fatal(err)
			}
			msgs := numbered("nonregular "+kind.String(), 3)
			for _, m := range msgs {
				deliver(t, d, alice, m)
			}
			md := open(t, f.Store, alice)
			f.Replace(t, alice, md.Messages()[1].UID, kind, target)

			type result struct {
				content []byte
				err     error
			}
			done := make(chan result, 1)
			go func() {
				rc, err := md.Open(context.Background(), 1)
				if err != nil {
					done <- result{err: err}
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				done <- result{content: b, err: err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(openWait):
				t.Fatalf("Open of a message replaced by a %s blocked (still waiting after %v)", kind, openWait)
			}
			switch {
			case bytes.Contains(r.content, secret):
				t.Errorf("the target of a symbolic link in a message's place was served: %q", r.content)
			case r.err == nil:
				t.Errorf("a %s in a message's place was served as %q", kind, r.content)
			case !errors.Is(r.err, storage.ErrGone):
				t.Errorf("Open of a message replaced by a %s: %v, want an error wrapping storage.ErrGone", kind, r.err)
			}
			for _, i := range []int{0, 2} {
				if got := read(t, md, i); !bytes.Equal(got, msgs[i]) {
					t.Errorf("message %d: %q, want %q", i, got, msgs[i])
				}
			}
			if err := md.Commit(context.Background(), []int{0, 1}); err != nil {
				t.Errorf("Commit deleting the replaced message: %v", err)
			}
			if b, err := os.ReadFile(target); err != nil || !bytes.Equal(b, secret) {
				t.Errorf("the link's target was changed: %q, %v", b, err)
			}
			v := look(t, f.Store, alice)
			checkListing(t, v)
			expectContents(t, v.contents, msgs[2:])
		})
	}
}
