//go:build unix

package mbox

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
)

// inventory is what a crash-and-race test knows about a maildrop: the
// Message-ID of every message it put in, and the sha256 of the content
// the message must be served with.
type inventory map[string]string

// add records msg (which must have a Message-ID header field).
func (inv inventory) add(t testing.TB, msg []byte) {
	t.Helper()
	id := messageID(msg)
	if id == "" {
		t.Fatalf("test message without a Message-ID: %q", msg)
	}
	inv[id] = sha(msg)
}

// sha returns the hex sha256 of b.
func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// messageID returns the value of the Message-ID header field of msg, or "".
func messageID(msg []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(msg))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(line) == 0 {
			return ""
		}
		if v, ok := bytes.CutPrefix(line, []byte("Message-ID: ")); ok {
			return string(v)
		}
	}
	return ""
}

// audit compares the messages a maildrop serves with want: it counts the
// messages of want that are not served (lost), served more than once
// (duplicated) or served with other content (corrupted), and the messages
// served that are not in want (served wrongly: partial records, mail of
// someone else, deleted mail). allowDup lists the Message-IDs that may be
// served twice (a delivery that completed although its process was killed,
// delivered again by the retry).
type audit struct {
	lost, duplicated, corrupted, wrong int
	details                            []string
}

// check audits served (the contents of a session) against want.
func check(want inventory, served [][]byte, allowDup map[string]bool) audit {
	var a audit
	count := make(map[string]int)
	for _, msg := range served {
		id := messageID(msg)
		sum, ok := want[id]
		switch {
		case !ok:
			a.wrong++
			a.details = append(a.details, fmt.Sprintf("served a message that is not in the inventory: %.120q", msg))
			continue
		case sha(msg) != sum:
			a.corrupted++
			a.details = append(a.details, fmt.Sprintf("%s served with other content (%d octets)", id, len(msg)))
		}
		count[id]++
	}
	for id := range want {
		switch n := count[id]; {
		case n == 0:
			a.lost++
			a.details = append(a.details, id+" lost")
		case n > 1 && !(n == 2 && allowDup[id]):
			a.duplicated++
			a.details = append(a.details, fmt.Sprintf("%s served %d times", id, n))
		}
	}
	return a
}

// expectClean fails the test unless a found nothing wrong.
func (a audit) expectClean(t testing.TB) {
	t.Helper()
	if a.lost+a.duplicated+a.corrupted+a.wrong == 0 {
		return
	}
	t.Errorf("inventory: %d lost, %d duplicated, %d corrupted, %d served wrongly", a.lost, a.duplicated, a.corrupted, a.wrong)
	for i, d := range a.details {
		if i == 20 {
			t.Errorf("... and %d more", len(a.details)-i)
			break
		}
		t.Error(d)
	}
}

// auditMaildrop opens user's maildrop and audits it against want.
func auditMaildrop(t testing.TB, m *Mbox, user string, want inventory, allowDup map[string]bool) audit {
	t.Helper()
	_, served := contents(t, m, user)
	return check(want, served, allowDup)
}

// numbered returns the i-th test message of a series, of about size
// octets (at least a few dozen), with a Message-ID.
func numbered(series string, i, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Message-ID: <%s-%d@test>\nFrom: a@example.net\nSubject: %s %d\n\nFrom the body of %d\n>From quoted\n", series, i, series, i, i)
	line := fmt.Sprintf("%s %d: the quick brown fox jumps over the lazy dog.\n", series, i)
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// needRoot skips a test that needs root (mounting a file system), or
// fails it when CI=true: there it must run.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s needs root, and CI=true", why)
	}
	t.Skipf("%s needs root", why)
}

// testKey is a spool key for tests that scan spools they built.
var testKey = bytes.Repeat([]byte{0x5a}, keySize)

// testSpoolKey returns the key of spool.
func testSpoolKey(t testing.TB, spool string) []byte {
	t.Helper()
	key, err := spoolKey(spool)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
