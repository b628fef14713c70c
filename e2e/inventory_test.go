//go:build linux

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// inventory is what the mail safety tests put into maildirs: the sha256
// of every message by its Message-ID. A message's fate is tracked with it:
// it must be there (delivered and not deleted), may be there (its
// delivery or its deletion was cut by a SIGKILL), or must be gone (its
// deletion was confirmed).
type inventory struct {
	mu    sync.Mutex
	sha   map[string]string // Message-ID -> sha256 of the content
	state map[string]fate
}

// fate is what may be found of one message.
type fate int

const (
	mustStay fate = iota + 1 // delivered, not deleted
	mayStay                  // a delivery or a deletion was interrupted
	mustGo                   // deleted, and the deletion was confirmed
)

func newInventory() *inventory {
	return &inventory{sha: map[string]string{}, state: map[string]fate{}}
}

// add records message content with its Message-ID and fate.
func (inv *inventory) add(id string, content []byte, f fate) {
	sum := sha256.Sum256(content)
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.sha[id] = hex.EncodeToString(sum[:])
	inv.state[id] = f
}

// set changes the fate of a known message.
func (inv *inventory) set(id string, f fate) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.state[id] = f
}

// fateOf returns the fate of a message.
func (inv *inventory) fateOf(id string) fate {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.state[id]
}

// messageID returns the Message-ID of a message whose first line is its
// Message-ID header, or "".
func messageID(content []byte) string {
	line, _, _ := strings.Cut(string(content), "\n")
	id, ok := strings.CutPrefix(strings.TrimSuffix(line, "\r"), "Message-ID: ")
	if !ok {
		return ""
	}
	return id
}

// served checks a message a client was given: it must be one of the
// inventory, byte for byte, and not one whose deletion was confirmed. It
// reports whether it was right.
func (inv *inventory) served(content []byte) bool {
	id := messageID(content)
	sum := sha256.Sum256(content)
	inv.mu.Lock()
	defer inv.mu.Unlock()
	want, ok := inv.sha[id]
	return ok && want == hex.EncodeToString(sum[:]) && inv.state[id] != mustGo
}

// tally is the result of checking maildirs against the inventory.
type tally struct {
	present, lost, duplicated, corrupted, undeleted int
}

// checkMaildirs checks cur/ and new/ of the maildirs (see check).
func (inv *inventory) checkMaildirs(t *testing.T, maildirs ...string) tally {
	t.Helper()
	var dirs []string
	for _, md := range maildirs {
		dirs = append(dirs, filepath.Join(md, "cur"), filepath.Join(md, "new"))
	}
	return inv.check(t, dirs...)
}

// check reads every regular file of the directories and compares
// them with the inventory: a message that must stay and is not there is
// lost, one found twice is duplicated, a file that is not exactly a
// message of the inventory is corrupted, a message whose deletion was
// confirmed and is still there is undeleted. It reports every problem as
// a test error.
func (inv *inventory) check(t *testing.T, dirs ...string) tally {
	t.Helper()
	var r tally
	found := map[string]int{}
	for _, dir := range dirs {
		{
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if !e.Type().IsRegular() {
					continue
				}
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				id := messageID(b)
				sum := sha256.Sum256(b)
				inv.mu.Lock()
				want, known := inv.sha[id]
				inv.mu.Unlock()
				if !known || want != hex.EncodeToString(sum[:]) {
					r.corrupted++
					t.Errorf("%s is not a message of the inventory (Message-ID %q, %d bytes)", filepath.Join(dir, e.Name()), id, len(b))
					continue
				}
				found[id]++
			}
		}
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for id, f := range inv.state {
		n := found[id]
		switch {
		case n > 1:
			r.duplicated += n - 1
			t.Errorf("message %s is there %d times", id, n)
		case n == 0 && f == mustStay:
			r.lost++
			t.Errorf("message %s is lost", id)
		case n == 1 && f == mustGo:
			r.undeleted++
			t.Errorf("message %s is still there after its deletion was confirmed", id)
		}
		if n > 0 {
			r.present++
		}
	}
	return r
}
