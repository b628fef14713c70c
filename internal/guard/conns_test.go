package guard

import (
	"net/netip"
	"testing"
)

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestConnRegistry(t *testing.T) {
	r := NewConns()
	a, b := mustAddr(t, "192.0.2.1"), mustAddr(t, "192.0.2.2")
	for _, tc := range []struct {
		ip     netip.Addr
		exempt bool
		want   string
	}{
		{a, false, ""},
		{a, false, ""},
		{a, false, RefusedPerIP}, // per-IP limit 2
		{a, true, ""},            // exempt: only the total counts
		{b, false, ""},
		{b, false, RefusedTotal}, // total limit 4
	} {
		if got := r.Admit(tc.ip, tc.exempt, 4, 2); got != tc.want {
			t.Errorf("admit %s exempt=%v: got %q, want %q", tc.ip, tc.exempt, got, tc.want)
		}
	}
	r.Release(a, false)
	r.Release(a, false)
	r.Release(a, true)
	r.Release(b, false)
	if total, ips, users := r.Counts(); total != 0 || ips != 0 || users != 0 {
		t.Errorf("after releasing everything: total %d, %d addresses, %d users tracked", total, ips, users)
	}

	k := UserKey("alice")
	if !r.ClaimUser(k, 2) || !r.ClaimUser(k, 2) || r.ClaimUser(k, 2) {
		t.Error("claimUser does not stop at the limit")
	}
	if !r.ClaimUser(UserKey("bob"), 2) {
		t.Error("another user is refused")
	}
	if !r.ClaimUser(k, 0) {
		t.Error("limit 0 refuses")
	}
	for range 3 {
		r.ReleaseUser(k)
	}
	r.ReleaseUser(UserKey("bob"))
	if _, _, users := r.Counts(); users != 0 {
		t.Errorf("%d users still tracked after every release", users)
	}
}
