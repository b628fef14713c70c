//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
)

// Bounds of TestMaildirCrashLoop: rounds of one server each, killed with
// SIGKILL while it applies a QUIT's deletions, and in each round
// crashDeliveries runs of `caddy pop3 deliver`, of which crashKilled are
// killed with SIGKILL at a random moment.
const (
	crashRounds     = 8
	crashSeeded     = 200 // small messages written into new/ each round
	crashDeliveries = 6
	crashKilled     = 3
)

// crashMessage is a message of the crash test: its Message-ID first, then
// a body of about size bytes.
func crashMessage(id string, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Message-ID: %s\nFrom: crash@test.example\nSubject: %s\n\n", id, id)
	line := strings.Repeat("x", 76)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%06d %s\n", i, line)
	}
	return []byte(b.String())
}

// crashCounts is what TestMaildirCrashLoop did, for its log line.
type crashCounts struct {
	rounds, seeded, delivered, deliveriesKilled, killedLanded int
	served, servedWrongly, marked, deletedConfirmed           int
	deletedDuringKill, keptDuringKill                         int
}

// TestMaildirCrashLoop kills the server with SIGKILL while it applies a
// QUIT's deletions, and `caddy pop3 deliver` processes while they write,
// round after round on the same maildir, with every message in an
// inventory (Message-ID -> sha256). After every round: nothing lost,
// duplicated, corrupted or wrongly deleted, nothing served that is not
// exactly a message of the inventory, and the next server logs in at
// once.
func TestMaildirCrashLoop(t *testing.T) {
	t.Parallel()
	inv := newInventory()
	var c crashCounts
	mailRoot := ""
	seq := 0
	for round := range crashRounds {
		s := startServer(t, serverOptions{mailRoot: mailRoot})
		mailRoot = s.MailRoot
		maildir := s.Maildir(testUser)
		c.rounds++

		// Mail written straight into new/, so that the commit below has
		// many files to remove and the kill lands in the middle of it.
		for _, sub := range []string{"new", "cur", "tmp"} {
			if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		for range crashSeeded {
			seq++
			id := fmt.Sprintf("<seed.%d@crash.test>", seq)
			msg := crashMessage(id, 200)
			if err := os.WriteFile(filepath.Join(maildir, "new", fmt.Sprintf("1700000000.M%06dP2.crash", seq)), msg, 0o600); err != nil {
				t.Fatal(err)
			}
			inv.add(id, msg, mustStay)
			c.seeded++
		}

		// Deliveries, some killed at a random moment.
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range crashDeliveries {
			seq++
			id := fmt.Sprintf("<delivery.%d@crash.test>", seq)
			msg := crashMessage(id, 64<<10+rand.IntN(2<<20))
			inv.add(id, msg, mayStay)
			cmd, stderr := deliverProcess(t, s.Dir, string(msg), "--config", s.config, "--user", testUser)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			kill := i < crashKilled
			wg.Go(func() {
				if kill {
					time.Sleep(time.Duration(rand.IntN(800)) * time.Millisecond)
					_ = cmd.Process.Signal(syscall.SIGKILL)
				}
				err := cmd.Wait()
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					inv.set(id, mustStay)
					c.delivered++
				case kill:
					c.deliveriesKilled++
				default:
					t.Errorf("caddy pop3 deliver: %v\n%s", err, stderr)
				}
			})
		}

		// A session reads everything, checks it, marks every seeded
		// message and one delivery of two, and QUITs; the server is
		// killed while it deletes.
		p := dialPOP3(t, s.Addr)
		if r := p.LoginReply(testUser, testPassword); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("round %d: login: %q", round, r)
		}
		n := statCount(t, p)
		var marked []string
		var dele strings.Builder
		for i := 1; i <= n; i++ {
			content, err := retrieve(p, i)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			c.served++
			if !inv.served([]byte(content)) {
				c.servedWrongly++
				t.Errorf("round %d: RETR %d served %d bytes that are not a message of the inventory", round, i, len(content))
				continue
			}
			id := messageID([]byte(content))
			if strings.HasPrefix(id, "<seed.") || rand.IntN(2) == 0 {
				marked = append(marked, id)
				fmt.Fprintf(&dele, "DELE %d\r\n", i)
			}
		}
		p.Send(dele.String())
		for range marked {
			if r := p.ReadLine(); !strings.HasPrefix(r, "+OK") {
				t.Fatalf("round %d: DELE: %q", round, r)
			}
		}
		for _, id := range marked {
			inv.set(id, mayStay)
		}
		c.marked += len(marked)
		p.Send("QUIT\r\n")
		// Most rounds kill within the commit; every fourth lets it
		// finish first, so that confirmed deletions are checked too.
		wait := time.Duration(rand.IntN(3000)) * time.Microsecond
		if round%4 == 3 {
			wait = 300 * time.Millisecond
		}
		time.Sleep(wait)
		if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-s.exited
		if quitConfirmed(p) {
			c.deletedConfirmed += len(marked)
			for _, id := range marked {
				inv.set(id, mustGo)
			}
		}
		wg.Wait()

		tl := inv.checkMaildirs(t, maildir)
		here := presentIDs(t, maildir)
		for _, id := range marked {
			if inv.fateOf(id) == mustGo {
				continue
			}
			if here[id] {
				c.keptDuringKill++
				inv.set(id, mustStay) // deleted later, or it stays
			} else {
				c.deletedDuringKill++
				inv.set(id, mustGo)
			}
		}
		// Killed deliveries that made it are mail now; the others must
		// never appear.
		inv.settle(here, &c.killedLanded)
		if tl.lost+tl.duplicated+tl.corrupted+tl.undeleted > 0 {
			t.Fatalf("round %d: %+v", round, tl)
		}
	}
	tmpLeft, _ := os.ReadDir(filepath.Join(mailRoot, testUser, "Maildir", "tmp"))
	t.Logf("crash loop: %d files left in tmp/ by killed deliveries (a login removes them after 36 hours)", len(tmpLeft))
	t.Logf("crash loop: %d rounds (SIGKILL during commit), %d seeded, %d deliveries done, %d deliveries SIGKILLed (%d had landed), "+
		"%d messages served (%d wrongly), %d marked, deletions: %d confirmed, %d applied and %d not yet by the kill; 0 lost, 0 duplicated, 0 corrupted, 0 wrongly deleted",
		c.rounds, c.seeded, c.delivered, c.deliveriesKilled, c.killedLanded,
		c.served, c.servedWrongly, c.marked, c.deletedConfirmed, c.deletedDuringKill, c.keptDuringKill)
}

// statCount sends STAT and returns the message count.
func statCount(t *testing.T, p *pop3test.Client) int {
	t.Helper()
	r := p.Cmd("STAT")
	f := strings.Fields(r)
	if len(f) < 3 || f[0] != "+OK" {
		t.Fatalf("STAT: %q", r)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("STAT: %q", r)
	}
	return n
}

// quitConfirmed reports whether the answer to QUIT was +OK before the
// connection closed.
func quitConfirmed(p *pop3test.Client) bool {
	line, err := p.Unchecked().ReadLine()
	return err == nil && strings.HasPrefix(line, "+OK")
}

// presentIDs returns the Message-IDs of the files in cur/ and new/ of
// maildir.
func presentIDs(t *testing.T, maildir string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			f, err := os.Open(filepath.Join(maildir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(f).ReadString('\n')
			f.Close()
			ids[messageID([]byte(line))] = true
		}
	}
	return ids
}

// settle turns the deliveries that may have landed into mail that must
// stay (those found) or must never appear (the others), counting the
// first in *landed.
func (inv *inventory) settle(here map[string]bool, landed *int) {
	inv.mu.Lock()
	var maybe []string
	for id, f := range inv.state {
		if f == mayStay {
			maybe = append(maybe, id)
		}
	}
	inv.mu.Unlock()
	for _, id := range maybe {
		if here[id] {
			*landed++
			inv.set(id, mustStay)
		} else {
			inv.set(id, mustGo)
		}
	}
}
