// Package storagetest is the test suite every caddy-pop3 storage backend
// runs. A backend's tests call Run with a function that makes a fresh,
// empty store; the suite checks the semantics the POP3 handler relies on:
// snapshots, sizes in CRLF octets, exact content, persistent and unique
// UIDLs, UPDATE-only deletion, locking, user name checks, and that no mail
// is ever lost.
//
//	func TestSuite(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storagetest.Fixture {
//			return storagetest.Fixture{Store: newStore(t)}
//		})
//	}
package storagetest

import (
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Fixture is one store under test, fresh and empty, with the optional
// hooks that let the suite act behind the store's back. Subtests that need
// a hook that is nil are skipped.
type Fixture struct {
	// Store is the backend under test. It must also implement
	// storage.Deliverer: the suite puts mail in through it. Each user must
	// have a maildrop of its own; the suite uses users of the form
	// local@domain (alice@example.com, bob@example.com).
	Store storage.Store

	// DeliverExternal, if set, delivers msg to user the way another
	// program would: an MTA or LDA writing the store's format directly
	// (file names, separators, no size hints...), not through the backend.
	// The delivery subtests then run once with Deliver and once with it.
	DeliverExternal func(t *testing.T, user string, msg []byte)

	// Remove, if set, removes the message of user whose UIDL is uid, the
	// way another program would (an IMAP server, another POP3 server),
	// while a session may hold the maildrop.
	Remove func(t *testing.T, user, uid string)

	// CrashCommit, if set, simulates a process that dies in the middle of
	// md.Commit(deleted): it carries out some but not all of the steps of
	// that commit, then releases the lock the way the kernel does when a
	// process dies, without any of the backend's cleanup. md is not used
	// again afterwards.
	CrashCommit func(t *testing.T, md storage.Maildrop, deleted []int)

	// Replace, if set, puts something that is not a message in the place
	// of the message of user whose UIDL is uid, the way a hostile local
	// user (or a broken program) would while a session holds the
	// maildrop: a symbolic link to target, a FIFO, or a directory (see
	// NonMessage). It calls t.Skip for a kind the backend's storage
	// cannot hold in a message's place. Backends that keep no file per
	// message leave it nil.
	Replace func(t *testing.T, user, uid string, kind NonMessage, target string)
}

// NonMessage is a kind of file that Fixture.Replace puts in a message's
// place.
type NonMessage int

// The kinds of NonMessage.
const (
	// Symlink is a symbolic link to a file outside the maildrop, which
	// must never be served.
	Symlink NonMessage = iota + 1
	// FIFO is a named pipe, which must never make a session block.
	FIFO
	// Directory is an empty directory.
	Directory
)

// String names the kind.
func (k NonMessage) String() string {
	switch k {
	case Symlink:
		return "symlink"
	case FIFO:
		return "fifo"
	case Directory:
		return "directory"
	}
	return "unknown"
}

// Users the suite works with.
const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

// Run runs the whole suite as subtests of t. newFixture is called once per
// subtest (and per table case) and must return a fresh, empty store, for
// example one rooted in t.TempDir().
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	s := suite{newFixture: newFixture}
	t.Run("EmptyMaildrop", s.testEmptyMaildrop)
	t.Run("Sizes", s.testSizes)
	t.Run("LargeMessage", s.testLargeMessage)
	t.Run("Content", s.testContent)
	t.Run("NoSuchMessage", s.testNoSuchMessage)
	t.Run("Order", s.testOrder)
	t.Run("UIDL", s.testUIDL)
	t.Run("SnapshotIsolation", s.testSnapshotIsolation)
	t.Run("DeliveryDuringSession", s.testDeliveryDuringSession)
	t.Run("ConcurrentDeliveries", s.testConcurrentDeliveries)
	t.Run("Commit", s.testCommit)
	t.Run("CloseDeletesNothing", s.testCloseDeletesNothing)
	t.Run("CommitVanished", s.testCommitVanished)
	t.Run("Locking", s.testLocking)
	t.Run("CloseAfterCommit", s.testCloseAfterCommit)
	t.Run("InvalidUsers", s.testInvalidUsers)
	t.Run("CrashDuringCommit", s.testCrashDuringCommit)
	t.Run("DeliverDuringCommit", s.testDeliverDuringCommit)
	t.Run("UIDLIdentical", s.testUIDLIdentical)
	t.Run("Vanished", s.testVanished)
	t.Run("NonRegular", s.testNonRegular)
	t.Run("Import", s.testImport)
}

// suite holds what every subtest needs.
type suite struct {
	newFixture func(t *testing.T) Fixture
}

// fixture makes a fresh fixture and checks that its store can deliver.
func (s suite) fixture(t *testing.T) (Fixture, storage.Deliverer) {
	t.Helper()
	f := s.newFixture(t)
	if f.Store == nil {
		t.Fatal("fixture has no Store")
	}
	d, ok := f.Store.(storage.Deliverer)
	if !ok {
		t.Fatalf("%T does not implement storage.Deliverer", f.Store)
	}
	return f, d
}

// deliverer is one way of putting mail in a store.
type deliverer struct {
	name    string
	deliver func(t *testing.T, user string, msg []byte)
}

// deliverers returns the ways f can receive mail: its Deliver method, and
// its DeliverExternal hook when it has one.
func deliverers(f Fixture, d storage.Deliverer) []deliverer {
	out := []deliverer{{name: "Deliver", deliver: func(t *testing.T, user string, msg []byte) {
		t.Helper()
		deliver(t, d, user, msg)
	}}}
	if f.DeliverExternal != nil {
		out = append(out, deliverer{name: "External", deliver: f.DeliverExternal})
	}
	return out
}

// forEachDeliverer runs fn as a subtest once per way of delivering mail
// (Deliver, then DeliverExternal when the fixture has it), each time with a
// fresh fixture.
func (s suite) forEachDeliverer(t *testing.T, fn func(t *testing.T, f Fixture, deliver func(t *testing.T, user string, msg []byte))) {
	for i := 0; ; i++ {
		f, d := s.fixture(t)
		ds := deliverers(f, d)
		if i >= len(ds) {
			return
		}
		t.Run(ds[i].name, func(t *testing.T) { fn(t, f, ds[i].deliver) })
	}
}
