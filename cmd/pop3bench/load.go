package main

import (
	"bufio"
	"context"
	"fmt"
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
		Clients: cfg.clients, Users: len(users), Verified: verifiedWhat(src), Pipelined: cfg.pipeline,
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
	cpu := startCPUWithDB(cfg.pids, cfg.dbPids)
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
	run := session
	if cfg.pipeline {
		run = pipelinedSession
	}
	msgs, bytes, err := run(cfg, src, user, r, sessionHooks{
		loggedIn: func() { t.login.add(time.Since(start)) },
		retrDone: t.retr.add,
	})
	t.messages += msgs
	t.bytes += bytes
	if err != nil {
		t.fail(err)
		return
	}
	t.sessions++
	t.session.add(time.Since(start))
}

// sessionHooks are what a session reports as it goes: the login's success
// and the latency of each RETR (from the command to the terminator).
type sessionHooks struct {
	loggedIn func()
	retrDone func(time.Duration)
}

// session is the protocol of one session, each command waiting for the
// answer to the one before. It returns the messages and octets retrieved.
func session(cfg *config, src source, user string, r *bufio.Reader, hooks sessionHooks) (msgs, octets int64, err error) {
	c, err := dial(cfg.addr, cfg.timeout, r, cfg.bufSize)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	if err := c.login(cfg.auth, user, cfg.password); err != nil {
		return 0, 0, err
	}
	hooks.loggedIn()

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
	sizes, err := checkSizes(sizeText, total)
	if err != nil {
		return 0, 0, err
	}

	got := make([]retrieved, count)
	for i := range count {
		t0 := time.Now()
		m, err := c.retr(i + 1)
		msgs++
		octets += m.size
		if err != nil {
			return msgs, octets, err
		}
		hooks.retrDone(time.Since(t0))
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

// pipelinedSession is session with the commands pipelined (RFC 2449):
// USER and PASS in one write, STAT, UIDL and LIST in the next, then every
// RETR and QUIT in the last; the answers are checked as in session. RETR
// latencies are not recorded: the answers queue behind each other.
func pipelinedSession(cfg *config, src source, user string, r *bufio.Reader, hooks sessionHooks) (msgs, octets int64, err error) {
	if cfg.auth != authUserPass {
		return 0, 0, fmt.Errorf("-pipeline works with -auth user only")
	}
	c, err := dial(cfg.addr, cfg.timeout, r, cfg.bufSize)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	if err := c.sendAll("USER "+user, "PASS "+cfg.password); err != nil {
		return 0, 0, err
	}
	if _, err := c.status("USER"); err != nil {
		return 0, 0, err
	}
	if _, err := c.status("PASS"); err != nil {
		return 0, 0, err
	}
	hooks.loggedIn()

	if err := c.sendAll("STAT", "UIDL", "LIST"); err != nil {
		return 0, 0, err
	}
	count, total, err := c.readStat()
	if err != nil {
		return 0, 0, err
	}
	var uids, sizeText []string
	if _, err = c.status("UIDL"); err == nil {
		uids, err = c.readListing("UIDL", count)
	}
	if err != nil {
		return 0, 0, err
	}
	if _, err = c.status("LIST"); err == nil {
		sizeText, err = c.readListing("LIST", count)
	}
	if err != nil {
		return 0, 0, err
	}
	if err := checkUIDs(uids); err != nil {
		return 0, 0, err
	}
	sizes, err := checkSizes(sizeText, total)
	if err != nil {
		return 0, 0, err
	}

	cmds := make([]string, 0, count+1)
	for i := range count {
		cmds = append(cmds, "RETR "+strconv.Itoa(i+1))
	}
	if err := c.sendAll(append(cmds, "QUIT")...); err != nil {
		return 0, 0, err
	}
	got := make([]retrieved, count)
	for i := range count {
		if _, err := c.status("RETR"); err != nil {
			return msgs, octets, err
		}
		m, err := c.readBody(i + 1)
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
	if _, err := c.status("QUIT"); err != nil {
		return msgs, octets, err
	}
	if mb := src[user]; mb != nil {
		if err := mb.check(got); err != nil {
			return msgs, octets, err
		}
	}
	return msgs, octets, c.closedAfterQuit()
}

// checkSizes parses the sizes of a LIST answer and checks that they add up
// to STAT's total.
func checkSizes(sizeText []string, total int64) ([]int64, error) {
	sizes := make([]int64, len(sizeText))
	var sum int64
	for i, s := range sizeText {
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n < 0 {
			return nil, integrityf("LIST: size %q of message %d", s, i+1)
		}
		sizes[i] = n
		sum += n
	}
	if sum != total {
		return nil, integrityf("LIST sizes add up to %d, STAT said %d", sum, total)
	}
	return sizes, nil
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
