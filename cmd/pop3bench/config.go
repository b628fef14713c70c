package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The benchmark modes.
const (
	modeSmall = "small" // many small messages: sessions per second
	modeBig   = "big"   // few big messages: RETR throughput
	modeIdle  = "idle"  // many idle authenticated connections: memory
	modePoll  = "poll"  // one user's maildrop polled: login, UIDL, QUIT
	// modeLoopback is no POP3 at all: a raw TCP copy on 127.0.0.1, the
	// ceiling of any server's RETR on this machine.
	modeLoopback = "loopback"
)

// The login mechanisms.
const (
	authUserPass = "user"  // USER + PASS
	authPlain    = "plain" // AUTH PLAIN with an initial response
)

// Upper bounds on what a run may ask for.
const (
	maxClients     = 10000
	maxConnections = 50000
	maxDuration    = time.Hour
	maxHold        = 9 * time.Minute // below the 10-minute POP3 idle timeout
	maxUsers       = 1000000
)

// config is the run configuration, from flags.
type config struct {
	addr        string
	mode        string
	clients     int
	connections int
	duration    time.Duration
	warmup      bool
	users       int
	firstUser   int
	userPrefix  string
	userWidth   int
	password    string
	auth        string
	source      string
	timeout     time.Duration
	jsonOut     bool
	outFile     string
	pids        []int
	dbPids      []int // the database's processes, measured apart (-db-pid)
	hold        time.Duration
	settle      time.Duration
	dialPar     int
	bufSize     int
	cpuProfile  string
	procs       int
	polls       int
	deliverBtw  bool
	maildir     string
	pipeline    bool
	noopEvery   time.Duration
}

// parseRunFlags reads the flags of a benchmark run.
func parseRunFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("pop3bench run", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:110", "POP3 server `host:port` (loopback only)")
	fs.StringVar(&c.mode, "mode", modeSmall, "small (sessions/s), big (RETR MB/s), idle (memory per connection), poll (one user: login, UIDL, QUIT latencies) or loopback (a raw TCP copy on 127.0.0.1: the machine's limit)")
	fs.BoolVar(&c.pipeline, "pipeline", false, "pipeline each session's commands (RFC 2449): USER+PASS, STAT+UIDL+LIST, then every RETR and QUIT in one write (small, big)")
	fs.DurationVar(&c.noopEvery, "noop-every", 0, "during the hold, send NOOP on every connection this often and measure memory after each round (idle; 0: only at the end)")
	fs.IntVar(&c.polls, "polls", 10, "polls of the first user, one after the other (poll)")
	fs.BoolVar(&c.deliverBtw, "deliver-between", false, "before each poll, deliver one small message into -maildir's new/ (poll)")
	fs.StringVar(&c.maildir, "maildir", "", "the first user's maildir `path` as the server sees it (with -deliver-between)")
	fs.IntVar(&c.clients, "clients", 8, "concurrent clients looping full sessions (small, big)")
	fs.IntVar(&c.connections, "connections", 1000, "idle authenticated connections to hold (idle)")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long to run (small, big)")
	fs.BoolVar(&c.warmup, "warmup", true, "run one untimed session per user first (small, big)")
	fs.IntVar(&c.users, "users", 20, "number of users: <prefix><number> from -first-user on")
	fs.IntVar(&c.firstUser, "first-user", 0, "number of the first user")
	fs.StringVar(&c.userPrefix, "user-prefix", "user", "user name prefix")
	fs.IntVar(&c.userWidth, "user-width", 3, "user number width, zero-padded")
	fs.StringVar(&c.password, "password", "bench", "every user's password")
	fs.StringVar(&c.auth, "auth", authUserPass, "login by 'user' (USER/PASS) or 'plain' (AUTH PLAIN)")
	fs.StringVar(&c.source, "source", "", "mail `root` the servers' copies were made from (<root>/<user>/Maildir): compare content")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "bound on each network exchange")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result as JSON")
	fs.StringVar(&c.outFile, "out", "", "also write the JSON result to `file`")
	pid := fs.Int("pid", 0, "server process: with its descendants, measured for PSS (idle) and CPU time (small, big)")
	pids := fs.String("pids", "", "comma-separated server processes, each with its descendants (like -pid)")
	dbPid := fs.Int("db-pid", 0, "database process (e.g. PostgreSQL's postmaster): with its descendants, its CPU time is measured apart from the server's (small, big)")
	fs.DurationVar(&c.hold, "hold", 10*time.Second, "how long to hold the idle connections (idle)")
	fs.DurationVar(&c.settle, "settle", 3*time.Second, "wait after opening before measuring memory (idle)")
	fs.IntVar(&c.dialPar, "dial-parallel", 32, "connections being opened at once (idle)")
	fs.IntVar(&c.bufSize, "read-buffer", 0, "client read buffer in bytes (default 64 KiB, 256 KiB in big mode, 4 KiB in idle mode)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write this program's CPU profile to `file`")
	fs.IntVar(&c.procs, "procs", 0, "GOMAXPROCS of the load generator (0: Go's default, one per core); 1 keeps its scheduler from spinning on the cores it shares with the server")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *pid != 0 {
		c.pids = append(c.pids, *pid)
	}
	if *dbPid != 0 {
		c.dbPids = append(c.dbPids, *dbPid)
	}
	if *pids != "" {
		for _, f := range strings.Split(*pids, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("-pids: invalid process id %q", f)
			}
			c.pids = append(c.pids, n)
		}
	}
	if c.bufSize == 0 {
		switch c.mode {
		case modeIdle:
			c.bufSize = 4 << 10
		case modeBig:
			// Fewer, larger reads: measured on 5 MiB messages, 256 KiB
			// takes a fifth less CPU than 64 KiB on both ends (the
			// server's writes block less often).
			c.bufSize = 256 << 10
		default:
			c.bufSize = 64 << 10
		}
	}
	return c, c.validate()
}

func (c *config) validate() error {
	switch c.mode {
	case modeSmall, modeBig, modeIdle, modePoll, modeLoopback:
	default:
		return fmt.Errorf("-mode: %q is not small, big, idle, poll or loopback", c.mode)
	}
	switch c.auth {
	case authUserPass, authPlain:
	default:
		return fmt.Errorf("-auth: %q is not user or plain", c.auth)
	}
	if err := checkLoopback(c.addr); err != nil {
		return err
	}
	switch {
	case c.clients < 1 || c.clients > maxClients:
		return fmt.Errorf("-clients: must be 1..%d", maxClients)
	case c.connections < 1 || c.connections > maxConnections:
		return fmt.Errorf("-connections: must be 1..%d", maxConnections)
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("-duration: must be positive and at most %s", maxDuration)
	case c.users < 1 || c.users > maxUsers || c.firstUser < 0:
		return fmt.Errorf("-users: must be 1..%d, -first-user not negative", maxUsers)
	case c.userWidth < 0 || c.userWidth > 12:
		return errors.New("-user-width: must be 0..12")
	case c.timeout <= 0 || c.timeout > 10*time.Minute:
		return errors.New("-timeout: must be positive and at most 10m")
	case c.hold < 0 || c.hold > maxHold:
		return fmt.Errorf("-hold: must be at most %s", maxHold)
	case c.settle < 0 || c.settle > time.Minute:
		return errors.New("-settle: must be at most 1m")
	case c.dialPar < 1 || c.dialPar > 1024:
		return errors.New("-dial-parallel: must be 1..1024")
	case c.bufSize < 512 || c.bufSize > 16<<20:
		return errors.New("-read-buffer: must be 512 bytes..16 MiB")
	case c.polls < 1 || c.polls > 100000:
		return errors.New("-polls: must be 1..100000")
	case c.procs < 0 || c.procs > 1024:
		return errors.New("-procs: must be 0..1024")
	case c.pipeline && c.mode != modeSmall && c.mode != modeBig:
		return errors.New("-pipeline: only with -mode small or big")
	case c.noopEvery < 0 || (c.noopEvery > 0 && c.mode != modeIdle):
		return errors.New("-noop-every: only with -mode idle, and not negative")
	case c.noopEvery > 0 && c.noopEvery < time.Second:
		return errors.New("-noop-every: at least 1s")
	case c.deliverBtw && c.mode != modePoll:
		return errors.New("-deliver-between: only with -mode poll")
	case c.deliverBtw && c.maildir == "":
		return errors.New("-deliver-between needs -maildir <path> (the first user's maildir)")
	case c.maildir != "" && !c.deliverBtw:
		return errors.New("-maildir: only with -deliver-between")
	case c.mode == modeIdle && c.connections > c.users:
		return fmt.Errorf("-connections %d needs as many users (-users is %d): a maildrop is locked by its session", c.connections, c.users)
	}
	return nil
}

// checkLoopback refuses any target that is not a loopback address: this
// tool only ever loads a server on the same machine.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %v", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("-addr: invalid port %q", port)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr: %q is not a loopback address (127.0.0.0/8 or ::1)", host)
	}
	return nil
}

// userName returns the name of user number i.
func (c *config) userName(i int) string {
	return fmt.Sprintf("%s%0*d", c.userPrefix, c.userWidth, i)
}

// userNames returns every benchmarked user's name.
func (c *config) userNames() []string {
	names := make([]string, c.users)
	for i := range names {
		names[i] = c.userName(c.firstUser + i)
	}
	return names
}
