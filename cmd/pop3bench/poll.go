package main

import (
	"bufio"
	"slices"
	"time"
)

// PollResult is the report of poll mode: one user's maildrop polled as a
// help-desk system does (login, UIDL, QUIT, nothing retrieved), one poll
// after the other, with the latency of each phase.
type PollResult struct {
	Polls    int         `json:"polls"`
	Messages int         `json:"messages"` // in the maildrop, from STAT
	Login    Percentiles `json:"login_latency"`
	UIDL     Percentiles `json:"uidl_latency"` // STAT + UIDL
	Quit     Percentiles `json:"quit_latency"`
	Total    Percentiles `json:"total_latency"`
}

// runPoll runs poll mode: cfg.polls sessions of the first user, one at a
// time, each connect + login, STAT + UIDL, QUIT. Every UIDL listing must
// be valid and the same as the first one (nothing changes the maildrop).
// With -deliver-between, one message is delivered into the maildir before
// each poll: every listing must then be the previous one plus one UIDL.
func runPoll(cfg *config) *Result {
	user := cfg.userName(cfg.firstUser)
	res := &Result{Mode: cfg.mode, Addr: cfg.addr, Auth: cfg.auth, Clients: 1, Users: 1,
		Verified: "UIDL valid, unique and the same at every poll"}
	if cfg.deliverBtw {
		res.Verified = "UIDL valid, unique, and each poll the previous listing plus the one delivery"
	}
	t := newTally(1)
	login, uidl, quit, total := newLatencies(2), newLatencies(3), newLatencies(4), newLatencies(5)
	r := bufio.NewReaderSize(nil, cfg.bufSize)
	var first, prev []string
	cpu := startCPUWithDB(cfg.pids, cfg.dbPids)
	start := time.Now()
	for range cfg.polls {
		if cfg.deliverBtw {
			if _, err := deliverOne(cfg.maildir); err != nil {
				t.fail(err)
				continue
			}
		}
		uids, err := func() ([]string, error) {
			t0 := time.Now()
			c, err := dial(cfg.addr, cfg.timeout, r, cfg.bufSize)
			if err != nil {
				return nil, err
			}
			defer c.close()
			if err := c.login(cfg.auth, user, cfg.password); err != nil {
				return nil, err
			}
			t1 := time.Now()
			count, _, err := c.stat()
			if err != nil {
				return nil, err
			}
			uids, err := c.listing("UIDL", count)
			if err != nil {
				return nil, err
			}
			t2 := time.Now()
			if err := c.quit(); err != nil {
				return nil, err
			}
			t3 := time.Now()
			login.add(t1.Sub(t0))
			uidl.add(t2.Sub(t1))
			quit.add(t3.Sub(t2))
			total.add(t3.Sub(t0))
			return uids, nil
		}()
		if err == nil {
			err = checkUIDs(uids)
		}
		if err == nil && !cfg.deliverBtw && first != nil && !slices.Equal(uids, first) {
			err = integrityf("UIDL listing of %d messages differs from the first poll's %d", len(uids), len(first))
		}
		if err == nil && cfg.deliverBtw && prev != nil {
			err = checkOneMore(prev, uids)
		}
		if err != nil {
			t.fail(err)
			continue
		}
		if first == nil {
			first = uids
		}
		prev = uids
		t.sessions++
	}
	res.merge([]*tally{t}, time.Since(start))
	cpu.stop(res)
	res.Login = percentiles(login)
	res.Session = percentiles(total)
	res.Poll = &PollResult{Polls: cfg.polls, Messages: len(first),
		Login: res.Login, UIDL: percentiles(uidl), Quit: percentiles(quit), Total: res.Session}
	return res
}

// checkOneMore reports an integrity error unless cur is prev plus exactly
// one new UIDL (the message delivered before the poll).
func checkOneMore(prev, cur []string) error {
	seen := make(map[string]bool, len(cur))
	for _, u := range cur {
		seen[u] = true
	}
	for _, u := range prev {
		if !seen[u] {
			return integrityf("UIDL %q of the previous poll is gone", u)
		}
	}
	if len(cur) != len(prev)+1 {
		return integrityf("UIDL listing of %d messages after one delivery, want %d", len(cur), len(prev)+1)
	}
	return nil
}
