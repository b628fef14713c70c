//go:build unix

package mbox

import (
	"strings"
	"testing"
)

// TestDovecotUIDs checks that a spool Dovecot served (X-IMAPbase in the
// first message, X-UID in each, as Dovecot 2.3 writes them) keeps the
// UIDLs Dovecot showed with its default pop3_uidl_format.
func TestDovecotUIDs(t *testing.T) {
	const from = "From bob@example.org Tue Dec  1 10:00:01 2026\n"
	m, dir := newTestStore(t)
	writeTestSpool(t, dir,
		from+"Subject: 1\nX-IMAPbase: 1796166000 0000000009\nX-UID: 1                 \nStatus: RO\n\nbody 1\n\n"+
			from+"Subject: 3\nX-UID: 3\nX-UIDL: from-qpopper\nStatus: O\n\nbody 3\n\n"+ // Dovecot's UID wins over an older X-UIDL
			from+"Subject: 4\nX-UID: 3\n\nbody 4\n\n"+ // a UID twice: the second gets its own UIDL
			from+"Subject: 5\nX-UIDL: 000000056b0f5170\n\nbody 5\n\n"+ // message 6's Dovecot UIDL: message 6 keeps it
			from+"Subject: 6\nX-UID: 5\n\nbody 6\n\n"+
			from+"Subject: new\n\nnew mail\n\n")
	msgs, _ := contents(t, m, alice)
	var uids []string
	seen := map[string]bool{}
	for i, msg := range msgs {
		uids = append(uids, msg.UID)
		if seen[msg.UID] {
			t.Errorf("message %d: UIDL %q shown twice", i+1, msg.UID)
		}
		seen[msg.UID] = true
	}
	if len(uids) != 6 {
		t.Fatalf("%d messages, want 6", len(uids))
	}
	for i, want := range map[int]string{0: "000000016b0f5170", 1: "000000036b0f5170", 4: "000000056b0f5170"} {
		if uids[i] != want {
			t.Errorf("message %d has UIDL %q, want %q", i+1, uids[i], want)
		}
	}
	for _, i := range []int{2, 3, 5} {
		if uids[i][0] != 'h' {
			t.Errorf("message %d has UIDL %q, want a content-hash one", i+1, uids[i])
		}
	}
	// Shown once, a UIDL stays.
	again, _ := contents(t, m, alice)
	for i, msg := range again {
		if msg.UID != uids[i] {
			t.Errorf("second login: message %d has UIDL %q, was %q", i+1, msg.UID, uids[i])
		}
	}
}

// TestDovecotUIDsFormat checks uidl_format for a spool Dovecot served
// with pop3_uidl_format = %v.%u, and that only %u and %v are accepted.
func TestDovecotUIDsFormat(t *testing.T) {
	const from = "From bob@example.org Tue Dec  1 10:00:01 2026\n"
	m, dir := newTestStore(t)
	m.UIDLFormat = "%v.%u"
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	writeTestSpool(t, dir, from+"X-IMAPbase: 1796166000 3\nX-UID: 2\n\nbody\n\n")
	if msgs, _ := contents(t, m, alice); len(msgs) != 1 || msgs[0].UID != "1796166000.2" {
		t.Errorf("messages %+v, want one with UIDL 1796166000.2", msgs)
	}
	for _, bad := range []string{"%f", "%g", "%m", "%08Xu%q"} {
		m := &Mbox{UIDLFormat: bad}
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "uidl_format") {
			t.Errorf("uidl_format %q: error %v, want one naming uidl_format", bad, err)
		}
	}
}
