package guard

import (
	"net/netip"
	"testing"
	"time"
)

func TestKnownAddressesBounded(t *testing.T) {
	clock := newClock()
	k := NewKnown(2)
	k.now = clock.now
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
	alice, bob, carol := UserKey("alice"), UserKey("bob"), UserKey("carol")

	for i := range MaxKnownAddrsPerUser + 1 {
		k.Record(alice, addr(i))
		clock.advance(time.Minute)
	}
	if k.Known(alice, addr(0)) {
		t.Error("the oldest of 9 addresses is still known; a user keeps 8")
	}
	for i := 1; i <= MaxKnownAddrsPerUser; i++ {
		if !k.Known(alice, addr(i)) {
			t.Errorf("address %d of alice is not known", i)
		}
	}
	if k.Known(bob, addr(1)) {
		t.Error("alice's address is known for bob")
	}

	clock.advance(KnownAddressTTL)
	if k.Known(alice, addr(MaxKnownAddrsPerUser)) {
		t.Error("an address is known 30 days after its last login")
	}
	k.Record(alice, addr(1))
	if !k.Known(alice, addr(1)) {
		t.Error("a new login does not make an address known again")
	}

	k.Record(bob, addr(1))
	k.Record(carol, addr(1)) // the registry holds 2 users: alice goes
	if k.Size() != 2 || k.Known(alice, addr(1)) || !k.Known(bob, addr(1)) || !k.Known(carol, addr(1)) {
		t.Errorf("eviction: size %d, alice %v, bob %v, carol %v", k.Size(), k.Known(alice, addr(1)), k.Known(bob, addr(1)), k.Known(carol, addr(1)))
	}
	k.Record(alice, netip.Addr{})
	if k.Known(alice, netip.Addr{}) || k.Size() != 2 {
		t.Error("a client without an address was recorded")
	}
}
