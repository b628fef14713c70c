package maildir

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// layoutFixture is a maildir as Unix programs leave it (names with ':'),
// with the UIDLs and sizes every platform must give it. The values are
// written out, not computed, so that a platform whose code path differs
// (another info separator, no listing cache) is held to the same answers.
var layoutFixture = []struct {
	sub, name, content string
	uid                string
	size               int64
}{
	{dirCur, "1700000000.M1P2.host,S=12:2,S", "Subject: 0\n\n", "1700000000.M1P2.host", 14},
	{dirNew, "1700000001.M123456P4321.mail.example.org,S=14,W=14", "Subject: 1\r\n\r\n",
		"1700000001.M123456P4321.mail.example.org", 14},
	{dirNew, "1700000002.V801I3a2bM123456.mx.example.net", "Subject: 2\n\nbody",
		"1700000002.V801I3a2bM123456.mx.example.net", 20},
	{dirCur, "1700000003." + strings.Repeat("x", 80) + ",W=3:2,RS", "a\r\n", "9e019deb03311fba4f18def8352f392e", 3},
}

// onPlatform returns a Unix maildir name as this platform writes it: its
// info part starts with infoSep.
func onPlatform(name string) string {
	return strings.Replace(name, ":", string(infoSep), 1)
}

// TestLayoutIsPlatformIndependent checks that the fixture gives the same
// UIDLs, sizes and names on every platform, whether a login lists the
// directories or (where there is one) takes the listing cache.
func TestLayoutIsPlatformIndependent(t *testing.T) {
	for _, f := range layoutFixture {
		base, fields, _ := splitName(onPlatform(f.name))
		if got := uidFor(base); got != f.uid {
			t.Errorf("%s: UIDL %q, want %q", f.name, got, f.uid)
		}
		if n, ok := wireSizeField(fields); ok && n != f.size {
			t.Errorf("%s: W= size %d, want %d", f.name, n, f.size)
		}
	}
	// The hashed UIDL is a plain SHA-256, not something of this system.
	long := baseOf(layoutFixture[3].name)
	if sum := sha256.Sum256([]byte(long)); hex.EncodeToString(sum[:16]) != layoutFixture[3].uid {
		t.Fatalf("the fixture's hashed UIDL is not the SHA-256 of %q", long)
	}

	m, dir := newTestStore(t)
	root := filepath.Join(dir, "alice", "Maildir")
	for _, f := range layoutFixture {
		writeMaildirFile(t, root, f.sub, onPlatform(f.name), []byte(f.content))
	}
	// A login renames nothing: every message keeps its name and place.
	want := map[string][]string{}
	for _, f := range layoutFixture {
		want[f.sub] = append(want[f.sub], onPlatform(f.name))
	}
	for _, names := range want {
		slices.Sort(names)
	}
	check := func(t *testing.T, md *maildrop) {
		t.Helper()
		msgs := md.Messages()
		if len(msgs) != len(layoutFixture) {
			t.Fatalf("%d messages, want %d", len(msgs), len(layoutFixture))
		}
		for i, f := range layoutFixture {
			if msgs[i].UID != f.uid || msgs[i].Size != f.size {
				t.Errorf("message %d: UIDL %q size %d, want %q %d", i+1, msgs[i].UID, msgs[i].Size, f.uid, f.size)
			}
			if got := content(t, md, i); string(got) != f.content {
				t.Errorf("message %d: content %q, want %q", i+1, got, f.content)
			}
		}
		for _, sub := range []string{dirCur, dirNew} {
			if got := names(t, filepath.Join(root, sub)); !slices.Equal(got, want[sub]) {
				t.Errorf("%s/ has\n%q\nwant\n%q", sub, got, want[sub])
			}
		}
	}

	md, _ := openAlice(t, m, dir) // lists, sizes the two without W=
	check(t, md)
	if err := md.Close(); err != nil {
		t.Fatal(err)
	}
	// The first login cached its listing, made before the directories
	// had settled; once they have, the next login checks it against their
	// names and takes it, and so does the one after, where there is a
	// cache.
	time.Sleep(trustAfter + 100*time.Millisecond)
	for round := range 2 {
		hits := listings.hits.Load()
		md, _ := openAlice(t, m, dir)
		check(t, md)
		if err := md.Close(); err != nil {
			t.Fatal(err)
		}
		hit := listings.hits.Load() > hits
		if want := runtime.GOOS != "windows"; hit != want {
			t.Errorf("login %d: served from the listing cache %v, want %v", round+2, hit, want)
		}
	}
}
