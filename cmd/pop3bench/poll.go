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
func runPoll(cfg *config) *Result {
	user := cfg.userName(cfg.firstUser)
	res := &Result{Mode: cfg.mode, Addr: cfg.addr, Auth: cfg.auth, Clients: 1, Users: 1,
		Verified: "UIDL valid, unique and the same at every poll"}
	t := newTally(1)
	login, uidl, quit, total := newLatencies(2), newLatencies(3), newLatencies(4), newLatencies(5)
	r := bufio.NewReaderSize(nil, cfg.bufSize)
	var first []string
	cpu := startCPU(cfg.pids)
	start := time.Now()
	for range cfg.polls {
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
		if err == nil && first != nil && !slices.Equal(uids, first) {
			err = integrityf("UIDL listing of %d messages differs from the first poll's %d", len(uids), len(first))
		}
		if err != nil {
			t.fail(err)
			continue
		}
		if first == nil {
			first = uids
		}
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
