package maildir

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// indexFixture makes alice's maildir of n messages (the even ones in cur/,
// as a mail reader left them, the odd ones in new/), settled and listed
// twice so that its listing is cached and its index written, then empties
// the in-memory cache as a restart does. It returns the store, the
// maildir and a store without the cache to compare with.
func indexFixture(t *testing.T, n int) (m *Maildir, root string, ref *Maildir) {
	t.Helper()
	m, dir := newTestStore(t)
	ref = &Maildir{Path: m.Path, ListingCacheSize: ListingCacheOff}
	root = filepath.Join(dir, "alice", "Maildir")
	for i := range n {
		if i%2 == 0 {
			writeMaildirFile(t, root, dirCur, fmt.Sprintf("%d.M%dP1.host%c2,", 1700000000+i, i, infoSep), fmt.Appendf(nil, "m%d\n", i))
		} else {
			writeMaildirFile(t, root, dirNew, fmt.Sprintf("%d.M%dP1.host", 1700000000+i, i), fmt.Appendf(nil, "m%d\n", i))
		}
	}
	openAndClose(t, m)
	time.Sleep(trustAfter + 100*time.Millisecond)
	openAndClose(t, m)
	if _, err := os.Lstat(filepath.Join(root, IndexFileName)); err != nil {
		t.Fatalf("no index written: %v", err)
	}
	restart()
	return m, root, ref
}

// restart empties the listing cache, as a new process has it.
func restart() {
	listings.setBudget(0)
	listings.setBudget(DefaultListingCacheSize)
}

func openAndClose(t *testing.T, m *Maildir) {
	t.Helper()
	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	md.Close()
}

// sameAsUncached logs in through m and through ref (no cache, no index)
// and checks that both list the same files and messages; it reports
// whether m's login was served from the index.
func sameAsUncached(t *testing.T, m, ref *Maildir, wantLen int) bool {
	t.Helper()
	hits := indexHits.Load()
	md, err := m.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	got, gotFiles := slices.Clone(md.Messages()), slices.Clone(md.(*maildrop).files)
	md.Close()
	fromIndex := indexHits.Load() > hits
	r, err := ref.Open(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(got) != wantLen || !slices.Equal(got, r.Messages()) || !slices.Equal(gotFiles, r.(*maildrop).files) {
		t.Errorf("listed %d messages (%v), want %d identical to the uncached %v", len(got), got, wantLen, r.Messages())
	}
	return fromIndex
}

// TestIndexAfterRestart checks that the first login after a restart is
// served from the index file when nothing changed, and that a maildir
// changed behind its back (by hand, by another program) is listed again.
func TestIndexAfterRestart(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, root string)
		want   int
		hit    bool
	}{
		{"unchanged", func(*testing.T, string) {}, 5, true},
		{"delivered to new/", func(t *testing.T, root string) {
			writeMaildirFile(t, root, dirNew, "1800000000.M1P1.host", []byte("new\n"))
		}, 6, false},
		{"removed by hand", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, dirCur, names(t, filepath.Join(root, dirCur))[2])); err != nil {
				t.Fatal(err)
			}
		}, 4, false},
		{"removed by hand from new/", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, dirNew, names(t, filepath.Join(root, dirNew))[1])); err != nil {
				t.Fatal(err)
			}
		}, 4, false},
		{"moved to cur/ by a mail reader", func(t *testing.T, root string) {
			name := names(t, filepath.Join(root, dirNew))[0]
			if err := os.Rename(filepath.Join(root, dirNew, name), filepath.Join(root, dirCur, name+string(infoSep)+"2,S")); err != nil {
				t.Fatal(err)
			}
		}, 5, false},
		{"flags changed", func(t *testing.T, root string) {
			old := filepath.Join(root, dirCur, names(t, filepath.Join(root, dirCur))[0])
			if err := os.Rename(old, old+"S"); err != nil {
				t.Fatal(err)
			}
		}, 5, false},
		{"dovecot-uidlist appeared", func(t *testing.T, root string) {
			if err := os.WriteFile(filepath.Join(root, DovecotUIDListName), []byte("3 V1 N1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 5, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, root, ref := indexFixture(t, 5)
			tc.change(t, root)
			if hit := sameAsUncached(t, m, ref, tc.want); hit != tc.hit {
				t.Errorf("served from the index: %v, want %v", hit, tc.hit)
			}
		})
	}
}

// TestIndexDamaged checks that an index that is torn, edited, forged or
// not a regular file is ignored, and that a forged one naming a path
// outside cur/ and new/ is refused even with a valid checksum.
func TestIndexDamaged(t *testing.T) {
	forge := func(data []byte, from, to string) []byte {
		l, err := decodeIndex(data)
		if err != nil {
			t.Fatal(err)
		}
		files, msgs := l.expand()
		for i := range files {
			if files[i].name == from {
				files[i].name, files[i].base = to, baseOf(to)
			}
		}
		f := newListing(files, msgs)
		f.format, f.cur, f.new, f.uidlist = l.format, l.cur, l.new, l.uidlist
		return encodeIndex(f)
	}
	cases := map[string]func(t *testing.T, root string, data []byte){
		"intact (control: served from the index)": func(t *testing.T, root string, data []byte) {
			writeIndexFile(t, root, data)
		},
		"forged path, control with a valid name": func(t *testing.T, root string, data []byte) {
			first := names(t, filepath.Join(root, dirCur))[0]
			writeIndexFile(t, root, forge(data, first, first))
		},
		"torn": func(t *testing.T, root string, data []byte) {
			writeIndexFile(t, root, data[:len(data)/2])
		},
		"one byte changed": func(t *testing.T, root string, data []byte) {
			data = bytes.Clone(data)
			data[len(data)/2] ^= 1
			writeIndexFile(t, root, data)
		},
		"empty": func(t *testing.T, root string, _ []byte) { writeIndexFile(t, root, nil) },
		"forged path outside the maildir": func(t *testing.T, root string, data []byte) {
			first := names(t, filepath.Join(root, dirCur))[0]
			writeIndexFile(t, root, forge(data, first, "../../../../etc/passwd"))
		},
		"forged hidden name": func(t *testing.T, root string, data []byte) {
			first := names(t, filepath.Join(root, dirCur))[0]
			writeIndexFile(t, root, forge(data, first, ".."))
		},
		"a symbolic link": func(t *testing.T, root string, data []byte) {
			other := filepath.Join(t.TempDir(), "index")
			if err := os.WriteFile(other, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(root, IndexFileName)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, filepath.Join(root, IndexFileName)); err != nil {
				t.Skip("no symbolic links here:", err)
			}
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			m, root, ref := indexFixture(t, 5)
			data, err := os.ReadFile(filepath.Join(root, IndexFileName))
			if err != nil {
				t.Fatal(err)
			}
			damage(t, root, data)
			control := strings.Contains(name, "control")
			if hit := sameAsUncached(t, m, ref, 5); hit != control {
				t.Errorf("served from the index: %v, want %v", hit, control)
			}
		})
	}
}

// writeIndexFile replaces the index of the maildir at root by data,
// keeping the maildir's stamps (cur/ and new/ are not touched).
func writeIndexFile(t *testing.T, root string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, IndexFileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestIndexRoundTrip checks that an index decodes to the listing it was
// made of.
func TestIndexRoundTrip(t *testing.T) {
	l := testListing(100)
	l.format, l.cur, l.new = "%08Xu%08Xv", dirStamp{1, 2, 3, 4, 5}, dirStamp{6, 7, -8, 9, 10}
	got, err := decodeIndex(encodeIndex(l))
	if err != nil {
		t.Fatal(err)
	}
	gf, gm := got.expand()
	wf, wm := l.expand()
	if !slices.Equal(gf, wf) || !slices.Equal(gm, wm) || got.format != l.format || got.cur != l.cur || got.new != l.new || got.uidlist != l.uidlist {
		t.Error("the index does not decode to its listing")
	}
}
