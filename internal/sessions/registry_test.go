package sessions

import (
	"sync"
	"testing"
	"time"
)

type fake struct {
	owner  string
	mu     sync.Mutex
	reason string
}

func (f *fake) Owner() any { return f.owner }

func (f *fake) Shutdown(reason string) {
	f.mu.Lock()
	f.reason = reason
	f.mu.Unlock()
}

func TestRegistry(t *testing.T) {
	r := New[*fake]()
	a, b, c := &fake{owner: "h1"}, &fake{owner: "h1"}, &fake{owner: "h2"}
	ida, idb, idc := NewID(), NewID(), NewID()
	r.Add(ida, a)
	r.Add(idb, b)
	r.Add(idc, c)
	if ida == idb || idb == idc || ida == idc {
		t.Fatalf("IDs not unique: %d %d %d", ida, idb, idc)
	}
	if got := r.Of("h1"); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("Of(h1) = %v, want [a b] in ID order", got)
	}
	if got := r.Of(nil); len(got) != 3 {
		t.Errorf("Of(nil) has %d sessions, want 3", len(got))
	}
	if s, ok := r.Get(idc); !ok || s != c {
		t.Errorf("Get(%d) = %v, %v", idc, s, ok)
	}
	r.ShutdownOf("h1", "bye")
	if a.reason != "bye" || b.reason != "bye" || c.reason != "" {
		t.Errorf("ShutdownOf(h1): reasons %q %q %q", a.reason, b.reason, c.reason)
	}
	if r.Drain(10 * time.Millisecond) {
		t.Error("Drain reports empty with 3 sessions")
	}
	done := make(chan bool)
	go func() { done <- r.Drain(time.Minute) }()
	r.Remove(ida)
	r.Remove(idb)
	r.Remove(idc)
	if !<-done {
		t.Error("Drain did not see the registry empty")
	}
	if r.Len() != 0 {
		t.Errorf("Len = %d after removing all", r.Len())
	}
}
