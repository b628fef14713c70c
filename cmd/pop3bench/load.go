package main

import (
	"bufio"
	"context"
	"strconv"
	"sync"
	"time"
)

// leases hands out users so that no two clients use one maildrop at once:
// POP3 locks a maildrop for its session (RFC 1939), so a second session of
// the same user would measure the lock, not the server. With more clients
// than users, the extra clients wait for a free user.
type leases chan string

func newLeases(users []string) leases {
	l := make(leases, len(users))
	for _, u := range users {
		l <- u
	}
	return l
}

// take returns a free user, or "" when ctx ends first.
func (l leases) take(ctx context.Context) string {
	select {
	case u := <-l:
		return u
	case <-ctx.Done():
		return ""
	}
}

func (l leases) give(u string) { l <- u }

// runLoad runs small or big mode: clients loop full sessions until the
// duration is over. A session under way when it ends is finished and
// counted; elapsed time runs until the last one ends.
func runLoad(cfg *config, src source) *Result {
	users := cfg.userNames()
	res := &Result{
		Mode: cfg.mode, Addr: cfg.addr, Auth: cfg.auth,
		Clients: cfg.clients, Users: len(users), Verified: verifiedWhat(src),
	}
	pool := newLeases(users)

	if cfg.warmup {
		warm := runWorkers(context.Background(), cfg, src, pool, min(cfg.clients, len(users)), len(users))
		for _, t := range warm {
			if t.errors+t.integrity > 0 {
				// A broken setup shows in the warm-up; report it as the result.
				res.merge(warm, 0)
				res.FailedInWarmup = true
				return res
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	defer cancel()
	cpu := startCPU(cfg.pids)
	start := time.Now()
	tallies := runWorkers(ctx, cfg, src, pool, cfg.clients, -1)
	res.merge(tallies, time.Since(start))
	cpu.stop(res)
	return res
}

// runWorkers runs n clients looping sessions until ctx ends or, when
// limit >= 0, until limit sessions have been run in all.
func runWorkers(ctx context.Context, cfg *config, src source, pool leases, n, limit int) []*tally {
	tallies := make([]*tally, n)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		left = limit
	)
	next := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if limit < 0 {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		if left == 0 {
			return false
		}
		left--
		return true
	}
	for w := range n {
		t := newTally(uint64(w) * 2)
		tallies[w] = t
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bufio.NewReaderSize(nil, cfg.bufSize)
			for next() {
				user := pool.take(ctx)
				if user == "" {
					return
				}
				runSession(cfg, src, user, t, r)
				pool.give(user)
			}
		}()
	}
	wg.Wait()
	return tallies
}

// runSession runs one full session (connect, login, STAT, UIDL, LIST, RETR
// of every message, QUIT) and checks every answer, adding the outcome to t.
// It reads through r.
func runSession(cfg *config, src source, user string, t *tally, r *bufio.Reader) {
	start := time.Now()
	msgs, bytes, err := session(cfg, src, user, r, func() { t.login.add(time.Since(start)) })
	t.messages += msgs
	t.bytes += bytes
	if err != nil {
		t.fail(err)
		return
	}
	t.sessions++
	t.session.add(time.Since(start))
}

// session is the protocol of one session; loggedIn is called when the
// login succeeds. It returns the messages and octets retrieved.
func session(cfg *config, src source, user string, r *bufio.Reader, loggedIn func()) (msgs, octets int64, err error) {
	c, err := dial(cfg.addr, cfg.timeout, r, cfg.bufSize)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	if err := c.login(cfg.auth, user, cfg.password); err != nil {
		return 0, 0, err
	}
	loggedIn()

	count, total, err := c.stat()
	if err != nil {
		return 0, 0, err
	}
	uids, err := c.listing("UIDL", count)
	if err != nil {
		return 0, 0, err
	}
	if err := checkUIDs(uids); err != nil {
		return 0, 0, err
	}
	sizeText, err := c.listing("LIST", count)
	if err != nil {
		return 0, 0, err
	}
	sizes := make([]int64, count)
	var sum int64
	for i, s := range sizeText {
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n < 0 {
			return 0, 0, integrityf("LIST: size %q of message %d", s, i+1)
		}
		sizes[i] = n
		sum += n
	}
	if sum != total {
		return 0, 0, integrityf("LIST sizes add up to %d, STAT said %d", sum, total)
	}

	got := make([]retrieved, count)
	for i := range count {
		m, err := c.retr(i + 1)
		msgs++
		octets += m.size
		if err != nil {
			return msgs, octets, err
		}
		if m.size != sizes[i] {
			return msgs, octets, integrityf("RETR %d sent %d octets, LIST said %d", i+1, m.size, sizes[i])
		}
		got[i] = m
	}
	if mb := src[user]; mb != nil {
		if err := mb.check(got); err != nil {
			return msgs, octets, err
		}
	}
	return msgs, octets, c.quit()
}

// checkUIDs checks that UIDL values are unique and 1-70 characters in the
// range 0x21-0x7E (RFC 1939 section 7).
func checkUIDs(uids []string) error {
	seen := make(map[string]int, len(uids))
	for i, u := range uids {
		if len(u) < 1 || len(u) > 70 {
			return integrityf("UIDL %d: %d characters", i+1, len(u))
		}
		for j := 0; j < len(u); j++ {
			if u[j] < 0x21 || u[j] > 0x7e {
				return integrityf("UIDL %d: character %#x", i+1, u[j])
			}
		}
		if prev, dup := seen[u]; dup {
			return integrityf("UIDL %d repeats the UID of message %d", i+1, prev)
		}
		seen[u] = i + 1
	}
	return nil
}

// verifiedWhat says what the run checks.
func verifiedWhat(src source) string {
	if src != nil {
		return "sizes, dot-stuffing, CRLF, UIDL, content (CRC-32C against the source)"
	}
	return "sizes, dot-stuffing, CRLF, UIDL"
}
