package main

import (
	"sync"
	"time"
)

// runIdle opens cfg.connections authenticated connections, one user each,
// measures the server's memory before and after, holds them (with
// -noop-every, sending NOOP on each that often and measuring the memory
// after every round), checks that every one still answers NOOP, and logs
// them out.
func runIdle(cfg *config, nofile uint64) (*Result, error) {
	users := cfg.userNames()[:cfg.connections]
	res := &Result{
		Mode: cfg.mode, Addr: cfg.addr, Auth: cfg.auth,
		Clients: cfg.connections, Users: len(users), Verified: "login, NOOP on every connection after the hold",
	}
	idle := &IdleResult{
		Connections:      cfg.connections,
		SettleSeconds:    cfg.settle.Seconds(),
		HoldSeconds:      cfg.hold.Seconds(),
		ClientRLimitSoft: nofile,
	}
	res.Idle = idle

	if len(cfg.pids) > 0 {
		kib, n, err := treePSS(procRoot, cfg.pids)
		if err != nil {
			return nil, err
		}
		idle.PSSBeforeKiB, idle.ProcessesBefore = kib, n
	}

	start := time.Now()
	conns, tallies := openIdle(cfg, users)
	idle.OpenSeconds = time.Since(start).Seconds()
	for _, c := range conns {
		if c != nil {
			idle.Held++
		}
	}

	time.Sleep(cfg.settle)
	if len(cfg.pids) > 0 {
		kib, n, err := treePSS(procRoot, cfg.pids)
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		idle.PSSAfterKiB, idle.ProcessesAfter = kib, n
		idle.PSSMeasured = true
		if idle.Held > 0 {
			idle.PSSPerConnKiB = float64(idle.PSSAfterKiB-idle.PSSBeforeKiB) / float64(idle.Held)
		}
	}

	end := start.Add(time.Duration(idle.OpenSeconds*float64(time.Second)) + cfg.hold)
	if cfg.noopEvery > 0 {
		for time.Until(end) > cfg.noopEvery {
			time.Sleep(cfg.noopEvery)
			noopRound(cfg, conns, tallies)
			idle.NoopRounds++
			if len(cfg.pids) == 0 {
				continue
			}
			kib, _, err := treePSS(procRoot, cfg.pids)
			if err != nil {
				closeAll(conns)
				return nil, err
			}
			idle.PSSAfterNoopKiB = kib
			if idle.Held > 0 {
				idle.PSSPerConnAfterNoopKiB = float64(kib-idle.PSSBeforeKiB) / float64(idle.Held)
			}
		}
	}
	if rest := time.Until(end); rest > 0 {
		time.Sleep(rest)
	}
	idle.StillAliveAtEnd = finishIdle(cfg, conns, tallies)
	res.merge(tallies, time.Since(start))
	res.Sessions = int64(idle.StillAliveAtEnd)
	return res, nil
}

// openIdle logs in one connection per user, cfg.dialPar at a time. A
// connection that failed is nil in the result.
func openIdle(cfg *config, users []string) ([]*client, []*tally) {
	conns := make([]*client, len(users))
	tallies := make([]*tally, cfg.dialPar)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range cfg.dialPar {
		t := newTally(uint64(w) * 2)
		tallies[w] = t
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				c, err := dial(cfg.addr, cfg.timeout, nil, cfg.bufSize)
				if err == nil {
					err = c.login(cfg.auth, users[i], cfg.password)
					if err != nil {
						c.close()
					}
				}
				if err != nil {
					t.fail(err)
					continue
				}
				t.login.add(time.Since(start))
				conns[i] = c
			}
		}()
	}
	for i := range users {
		next <- i
	}
	close(next)
	wg.Wait()
	return conns, tallies
}

// noopRound sends NOOP on every held connection that has not failed,
// cfg.dialPar at a time; a connection whose NOOP fails is closed and
// dropped (it counts as an error, and is not alive at the end).
func noopRound(cfg *config, conns []*client, tallies []*tally) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range cfg.dialPar {
		t := tallies[w]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := conns[i].cmd("NOOP", "NOOP"); err != nil {
					t.fail(err)
					conns[i].close()
					conns[i] = nil
				}
			}
		}()
	}
	for i, c := range conns {
		if c != nil {
			next <- i
		}
	}
	close(next)
	wg.Wait()
}

// finishIdle sends NOOP then QUIT on every held connection and returns how
// many answered both.
func finishIdle(cfg *config, conns []*client, tallies []*tally) int {
	next := make(chan int)
	alive := make([]bool, len(conns))
	var wg sync.WaitGroup
	for w := range cfg.dialPar {
		t := tallies[w]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := conns[i]
				_, err := c.cmd("NOOP", "NOOP")
				if err == nil {
					err = c.quit()
				}
				c.close()
				if err != nil {
					t.fail(err)
					continue
				}
				alive[i] = true
			}
		}()
	}
	for i, c := range conns {
		if c != nil {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	n := 0
	for _, a := range alive {
		if a {
			n++
		}
	}
	return n
}

func closeAll(conns []*client) {
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
}
