//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-pop3/caddy-pop3/internal/pgtest"
	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
)

// The cluster test's bounds: its load runs for clusterLoad, the nodes'
// lease_time is clusterLease.
const (
	clusterLoad     = 28 * time.Second
	clusterLease    = 3 * time.Second
	clusterWorkers  = 6
	clusterUsers    = 12 // two per worker
	clusterVictims  = 2  // users whose sessions are on the node that is killed
	clusterDelivers = 2  // delivery loops
)

// clusterNode is one Caddy of the cluster, restartable on its port.
type clusterNode struct {
	name, config, home string
	port               int
	env                []string
	s                  *server
}

// readExample returns examples/cluster/<name> with the replacements made,
// failing when one no longer applies.
func readExample(t *testing.T, name string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "cluster", name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for i := 0; i < len(repl); i += 2 {
		if !strings.Contains(text, repl[i]) {
			t.Fatalf("examples/cluster/%s has no %q any more; update this test", name, repl[i])
		}
		text = strings.ReplaceAll(text, repl[i], repl[i+1])
	}
	return text
}

// newClusterNode writes node i's config: examples/cluster/node.caddyfile
// with a short lease and timeout, and plaintext logins allowed (the
// load's clients are plaintext; STLS through a balancer is
// TestBehindProxyExample's).
func newClusterNode(t *testing.T, i int, dsn string) *clusterNode {
	t.Helper()
	dir := t.TempDir()
	n := &clusterNode{name: fmt.Sprintf("node%d.cluster.test", i), home: filepath.Join(dir, "home"), port: freePort(t)}
	if err := os.MkdirAll(n.home, 0o700); err != nil {
		t.Fatal(err)
	}
	text := readExample(t, "node.caddyfile",
		"lease_time 30s", "lease_time "+clusterLease.String(),
		"timeout 5s", "timeout 2s",
		"\t\t\t\t\tstarttls\n", "\t\t\t\t\tallow_insecure_auth\n")
	n.config = filepath.Join(dir, "node.caddyfile")
	if err := os.WriteFile(n.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	n.env = []string{
		"POP3_DSN=" + dsn,
		fmt.Sprintf("POP3_LISTEN=127.0.0.1:%d", n.port),
		"POP3_NAME=" + n.name,
		fmt.Sprintf("POP3_ADMIN=127.0.0.1:%d", freePort(t)),
		"POP3_BALANCER=127.0.0.1/32",
	}
	return n
}

// start runs the node (again) and waits for its greeting behind a PROXY
// header.
func (n *clusterNode) start(t *testing.T) {
	t.Helper()
	n.s = &server{Addr: fmt.Sprintf("127.0.0.1:%d", n.port), Port: n.port, Dir: filepath.Dir(n.config),
		out: &lockedBuffer{}, exited: make(chan struct{}), config: n.config, env: n.env}
	ready := func() error {
		var err error
		for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			select {
			case <-n.s.exited:
				return fmt.Errorf("caddy exited: %v", n.s.cmd.ProcessState)
			default:
			}
			var p *clusterConn
			if p, err = dialCluster(n.s.Addr, proxyV1); err == nil {
				p.Cmd("QUIT")
				p.Close()
				return nil
			}
		}
		return err
	}
	if err := n.s.launch(t, []string{"run", "--config", n.config}, n.home, ready); err != nil {
		t.Fatalf("starting %s: %v", n.name, err)
	}
}

// kill SIGKILLs the node.
func (n *clusterNode) kill() {
	_ = n.s.cmd.Process.Kill()
	<-n.s.exited
}

// deliver runs `caddy pop3 deliver` through the node's config and
// reports whether it exited 0.
func (n *clusterNode) deliver(user string, msg []byte) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, "pop3", "deliver", "--config", n.config, "--user", user)
	cmd.Env = append(append(os.Environ(), "HOME="+n.home), n.env...)
	cmd.Stdin = bytes.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return err == nil, stderr.String()
}

// window is a time span of the run in which failures are expected.
type window struct {
	name       string
	start, end time.Time
}

// outcome is how one session or delivery ended, and when.
type outcome struct {
	at, start time.Time
	node      string
	err       error
}

// outcomes collects the sessions' and deliveries' outcomes; they are
// sorted into the windows of the failures at the end.
type outcomes struct {
	mu         sync.Mutex
	sessions   []outcome
	deliveries []outcome
	windows    []window
}

func (o *outcomes) windowOf(at time.Time) string {
	for _, w := range o.windows {
		if !at.Before(w.start) && !at.After(w.end) {
			return w.name
		}
	}
	return "steady"
}

func (o *outcomes) record(list *[]outcome, start time.Time, node string, err error) {
	o.mu.Lock()
	*list = append(*list, outcome{at: time.Now(), start: start, node: node, err: err})
	o.mu.Unlock()
}

func (o *outcomes) addWindow(name string, start, end time.Time) {
	o.mu.Lock()
	o.windows = append(o.windows, window{name, start, end})
	o.mu.Unlock()
}

// isInUse reports whether err is an -ERR [IN-USE] reply.
func isInUse(err error) bool {
	var re *pop3test.ReplyError
	return errors.As(err, &re) && strings.HasPrefix(re.Reply, "-ERR [IN-USE]")
}

// clusterSession runs one session as user through addr: every message is
// retrieved and checked, most are deleted, and most sessions end with
// QUIT (the others drop the connection: their deletions must not apply).
func clusterSession(l *ledger, addr, user string, rng *rand.Rand) (node string, err error) {
	p, err := dialCluster(addr, "")
	if err != nil {
		return "", err
	}
	defer p.Close()
	if err := p.login(user); err != nil {
		return p.node, err
	}
	ns, err := p.uidl()
	if err != nil {
		return p.node, err
	}
	var deleted []string
	for _, n := range ns {
		b, err := p.retr(n)
		if err != nil {
			return p.node, err
		}
		id, ok := l.served(user, b, false)
		if ok && rng.IntN(4) != 0 {
			if err := p.OK(fmt.Sprintf("DELE %d", n)); err != nil {
				return p.node, err
			}
			deleted = append(deleted, id)
		}
	}
	if rng.IntN(10) == 0 {
		return p.node, nil // dropped without QUIT: nothing may be deleted
	}
	err = p.OK("QUIT")
	l.quit(deleted, err == nil)
	return p.node, err
}

// TestCluster runs examples/cluster on loopback: three Caddy nodes on one
// private PostgreSQL, a fourth Caddy as the balancer (caddy-l4's proxy
// with health checks and PROXY v2). Sessions with deletions run through
// the balancer while `caddy pop3 deliver` delivers, each message with a
// unique Message-ID and its sha256 in a ledger. Mid-run one node is
// SIGKILLed while it holds sessions (their deletions not yet committed)
// and later restarted, and the database is crashed and restarted. At the
// end every message is either retrieved byte-identical and deleted by
// exactly one session with a confirmed QUIT, or still stored; nothing
// retrieved is gone without a QUIT; the killed node's users are served
// again once its leases lapse; and each node serves sessions after the
// database came back.
func TestCluster(t *testing.T) {
	c := pgtest.StartForTest(t, freePort(t))
	ctx := context.Background()
	if err := c.CreateDatabase(ctx, "mail"); err != nil {
		t.Fatal(err)
	}
	dsn := c.DSN("mail")
	users := make([]string, clusterUsers+clusterVictims)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
	}
	workerUsers, victims := users[:clusterUsers], users[clusterUsers:]
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE users (username text PRIMARY KEY, password text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if _, err := conn.Exec(ctx, `INSERT INTO users VALUES ($1, $2)`, u, testPasswordHash(t)); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)

	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		nodes[i] = newClusterNode(t, i+1, dsn)
		nodes[i].start(t)
	}
	lbPort := freePort(t)
	lbDir := t.TempDir()
	lbConfig := filepath.Join(lbDir, "balancer.caddyfile")
	if err := os.WriteFile(lbConfig, []byte(readExample(t, "balancer.caddyfile")), 0o600); err != nil {
		t.Fatal(err)
	}
	lb := &server{Addr: fmt.Sprintf("127.0.0.1:%d", lbPort), Port: lbPort, Dir: lbDir, config: lbConfig,
		out: &lockedBuffer{}, exited: make(chan struct{}), env: []string{
			fmt.Sprintf("POP3_LISTEN=127.0.0.1:%d", lbPort),
			fmt.Sprintf("POP3_ADMIN=127.0.0.1:%d", freePort(t)),
			fmt.Sprintf("POP3_NODE1=127.0.0.1:%d", nodes[0].port),
			fmt.Sprintf("POP3_NODE2=127.0.0.1:%d", nodes[1].port),
			fmt.Sprintf("POP3_NODE3=127.0.0.1:%d", nodes[2].port),
		}}
	if err := lb.launch(t, []string{"run", "--config", lbConfig}, lbDir, lb.waitReady); err != nil {
		t.Fatalf("starting the balancer: %v", err)
	}

	l := newLedger()
	var seqMu sync.Mutex
	seq := 0
	deliverOne := func(n *clusterNode, user string) (bool, string) {
		seqMu.Lock()
		seq++
		s := seq
		seqMu.Unlock()
		id, msg := l.newMessage(user, s)
		ok, stderr := n.deliver(user, msg)
		if ok {
			l.deliveredOK(id)
		}
		return ok, stderr
	}
	// The victims' mail, delivered before the load.
	for _, v := range victims {
		for range 2 {
			if ok, stderr := deliverOne(nodes[0], v); !ok {
				t.Fatalf("caddy pop3 deliver: %s", stderr)
			}
		}
	}

	o := &outcomes{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for d := range clusterDelivers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				n := nodes[(d+i)%len(nodes)]
				var err error
				if ok, stderr := deliverOne(n, workerUsers[(d+2*i)%len(workerUsers)]); !ok {
					err = errors.New(strings.TrimSpace(stderr))
				}
				o.record(&o.deliveries, start, n.name, err)
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	for w := range clusterWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 18))
			mine := workerUsers[2*w : 2*w+2]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				node, err := clusterSession(l, lb.Addr, mine[i%2], rng)
				o.record(&o.sessions, start, node, err)
				// Leave the shared machine some CPU; after an error, give
				// the cluster a moment.
				time.Sleep(10 * time.Millisecond)
				if err != nil {
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}

	// Node 2 holds the victims' sessions, which deleted everything but
	// have not said QUIT, and is then SIGKILLed.
	time.Sleep(6 * time.Second)
	victim := nodes[1]
	var held []*clusterConn
	for _, v := range victims {
		p, err := dialCluster(victim.s.Addr, proxyV1)
		if err != nil {
			t.Fatalf("a session on %s: %v", victim.name, err)
		}
		if err := p.login(v); err != nil {
			t.Fatalf("login of %s on %s: %v", v, victim.name, err)
		}
		ns, err := p.uidl()
		if err != nil || len(ns) != 2 {
			t.Fatalf("UIDL of %s on %s: %v, %d messages, want 2", v, victim.name, err, len(ns))
		}
		for _, n := range ns {
			b, err := p.retr(n)
			if err != nil {
				t.Fatal(err)
			}
			l.served(v, b, false)
			if err := p.OK(fmt.Sprintf("DELE %d", n)); err != nil {
				t.Fatal(err)
			}
		}
		held = append(held, p)
	}
	killed := time.Now()
	victim.kill()
	o.addWindow("node killed", killed, killed.Add(clusterLease+3*time.Second))
	for _, p := range held {
		p.Close()
	}
	t.Logf("%s SIGKILLed holding the sessions of %v", victim.name, victims)

	// The victims are served again once the leases lapse, through the
	// balancer, with their mail still there. Bounded: the lease plus the
	// balancer taking the dead node out.
	inUse := 0
	for _, v := range victims {
		var err error
		var ns []int
		for range 100 {
			var p *clusterConn
			if p, err = dialCluster(lb.Addr, ""); err == nil {
				if err = p.login(v); err == nil {
					ns, err = p.uidl()
					for _, n := range ns {
						var b []byte
						if b, err = p.retr(n); err != nil {
							break
						}
						l.served(v, b, false)
					}
					if err == nil {
						err = p.OK("QUIT")
					}
				}
				p.Close()
			}
			if isInUse(err) {
				inUse++
			}
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("%s, whose session was on the killed node, is not served again: %v", v, err)
		} else if len(ns) != 2 {
			t.Errorf("%s after the kill: %d messages, want the 2 its killed session deleted without QUIT", v, len(ns))
		}
	}
	t.Logf("the killed node's users served again %v after the kill (%d logins got -ERR [IN-USE] first)", time.Since(killed).Round(100*time.Millisecond), inUse)

	// Node 2 comes back on its port; the balancer's health checks bring
	// it back into rotation.
	if d := 6*time.Second - time.Since(killed); d > 0 {
		time.Sleep(d)
	}
	restarted := time.Now()
	victim.start(t)
	o.addWindow("node restarted", restarted, time.Now().Add(3*time.Second))

	// The database crashes (pg_ctl stop -m immediate) and comes back.
	time.Sleep(3 * time.Second)
	dbDown := time.Now()
	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	o.addWindow("database restarted", dbDown, time.Now().Add(clusterLease+2*time.Second))
	dbBack := time.Now().Add(clusterLease + 2*time.Second)
	t.Logf("database down %v", time.Since(dbDown).Round(100*time.Millisecond))

	if d := clusterLoad - time.Since(killed.Add(-6*time.Second)); d > 0 {
		time.Sleep(d)
	}
	close(stop)
	wg.Wait()

	// The final pass: every user's mail, read through the balancer
	// without deleting.
	for _, u := range users {
		var err error
		for range 50 {
			var p *clusterConn
			if p, err = dialCluster(lb.Addr, ""); err == nil {
				if err = p.login(u); err == nil {
					var ns []int
					ns, err = p.uidl()
					var got [][]byte
					for _, n := range ns {
						var b []byte
						if b, err = p.retr(n); err != nil {
							break
						}
						got = append(got, b)
					}
					if err == nil {
						for _, b := range got {
							l.served(u, b, true)
						}
						err = p.OK("QUIT")
					}
				}
				p.Close()
			}
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("final pass, %s: %v", u, err)
		}
	}

	counts, problems := l.verdict()
	for _, p := range problems {
		t.Error(p)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	ok, failed, delivFailed, byNode := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	inUseLoad := 0
	var examples []string
	for _, e := range o.sessions {
		w := o.windowOf(e.at)
		switch {
		case e.err == nil:
			ok[w]++
			if e.start.After(dbBack) {
				byNode[e.node]++
			}
		case isInUse(e.err):
			inUseLoad++
		default:
			failed[w]++
			if w == "steady" && len(examples) < 5 {
				examples = append(examples, fmt.Sprintf("%s on %q: %v", e.at.Format("15:04:05.000"), e.node, e.err))
			}
		}
	}
	for _, e := range o.deliveries {
		if e.err != nil {
			delivFailed[o.windowOf(e.at)]++
		}
	}
	t.Logf("sessions: %d through the balancer; ended with QUIT +OK or a planned drop, by window: %v; failed, by window: %v; -ERR [IN-USE]: %d",
		len(o.sessions), ok, failed, inUseLoad)
	t.Logf("deliveries: %d run, %d confirmed; failed, by window: %v", len(o.deliveries)+2*clusterVictims, counts.delivered, delivFailed)
	t.Logf("messages: %d retrieved and deleted with a confirmed QUIT, %d still stored, %d RETRs in all, %d gone after an unconfirmed QUIT, %d failed deliveries not stored",
		counts.retrieved, counts.stored, counts.retrievedBy, counts.unconfirmedGone, counts.neverArrived)
	t.Logf("integrity: %d lost, %d duplicated, %d deleted without QUIT, %d not deleted after QUIT +OK, %d other",
		counts.lost, counts.duplicated, counts.wrongGone, counts.undeleted, len(l.problems))
	t.Logf("sessions after the database came back, by node: %v", byNode)
	for _, e := range examples {
		t.Logf("failure outside the windows: %s", e)
	}
	if counts.retrieved == 0 || counts.delivered == 0 {
		t.Errorf("the load did nothing: %d delivered, %d retrieved", counts.delivered, counts.retrieved)
	}
	for _, n := range nodes {
		if byNode[n.name] == 0 {
			t.Errorf("%s served no session after the database came back", n.name)
		}
	}
}
