// Command pop3bench is a load generator for POP3 servers on this machine.
// It runs full sessions (connect, login, STAT, UIDL, LIST, RETR of every
// message, QUIT) from many concurrent clients and checks every byte, or
// holds many idle authenticated connections and reports the server's
// memory per connection. It also generates the maildir trees it reads.
//
// Usage:
//
//	pop3bench [run] -addr 127.0.0.1:1110 -mode small -clients 8 -duration 20s
//	pop3bench run -mode poll -polls 10 -users 1 -addr 127.0.0.1:1110
//	pop3bench run -mode poll -polls 10 -users 1 -deliver-between -maildir /var/mail/user000/Maildir
//	pop3bench run -mode idle -connections 10000 -users 10000 -pid <server pid>
//	pop3bench run -mode idle -connections 19000 -users 19000 -hold 150s -noop-every 1m -pid <server pid>
//	pop3bench run -mode small -pipeline -clients 1 -pid <server pid>
//	pop3bench run -mode loopback -clients 1 -duration 10s
//	pop3bench gen -out /srv/mail -users 20 -messages 20 -size 4096
//
// It only connects to loopback addresses.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the run saw errors or integrity errors
	exitUsage  = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "gen":
			if err := generate(args[1:], stdout); err != nil {
				fmt.Fprintln(stderr, "pop3bench gen:", err)
				return exitUsage
			}
			return exitOK
		case "run":
			args = args[1:]
		}
	}
	cfg, err := parseRunFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "pop3bench:", err)
		return exitUsage
	}
	if cfg.procs > 0 {
		runtime.GOMAXPROCS(cfg.procs)
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "pop3bench:", err)
			return exitUsage
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	res, err := bench(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "pop3bench:", err)
		return exitUsage
	}
	if cfg.outFile != "" {
		f, err := os.Create(cfg.outFile)
		if err == nil {
			err = writeJSON(f, res)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "pop3bench:", err)
			return exitUsage
		}
	}
	if cfg.jsonOut {
		_ = writeJSON(stdout, res)
	} else {
		writeText(stdout, res)
	}
	if res.Errors+res.IntegrityErrors > 0 {
		return exitFailed
	}
	return exitOK
}

// bench runs the configured mode.
func bench(cfg *config) (*Result, error) {
	want := uint64(cfg.clients)
	if cfg.mode == modeIdle {
		want = uint64(cfg.connections)
	}
	nofile, err := raiseNoFile(want + 64)
	if err != nil {
		return nil, err
	}
	if cfg.mode == modeIdle {
		return runIdle(cfg, nofile)
	}
	if cfg.mode == modeLoopback {
		return runLoopback(cfg)
	}
	if cfg.mode == modePoll {
		return runPoll(cfg), nil
	}
	var src source
	if cfg.source != "" {
		if src, err = loadSource(cfg.source, cfg.userNames()); err != nil {
			return nil, err
		}
	}
	return runLoad(cfg, src), nil
}
