//go:build linux

package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
)

// clusterIOTimeout bounds every read and write of a load session.
const clusterIOTimeout = 10 * time.Second

// clusterConn is a POP3 client for the cluster load: a pop3test.Conn,
// which returns errors instead of failing the test, since connections are
// cut on purpose (a node killed, the database restarted).
type clusterConn struct {
	*pop3test.Conn
	// node is the host name in the greeting: which node serves.
	node string
}

// dialCluster connects to addr; header, when set, is sent first (a PROXY
// header, to reach a node without the balancer).
func dialCluster(addr, header string) (*clusterConn, error) {
	c, err := net.DialTimeout("tcp", addr, clusterIOTimeout)
	if err != nil {
		return nil, err
	}
	p := &clusterConn{Conn: pop3test.NewConn(c)}
	p.SetTimeout(clusterIOTimeout)
	if header != "" {
		if err := p.Send(header); err != nil {
			c.Close()
			return nil, err
		}
	}
	g, err := p.ReadLine()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	f := strings.Fields(g)
	if len(f) < 2 || f[0] != "+OK" {
		c.Close()
		return nil, fmt.Errorf("greeting %q", g)
	}
	p.node = f[1]
	return p, nil
}

// proxyV1 is a PROXY v1 header as the balancer would send one for a
// client on 127.0.0.1.
const proxyV1 = "PROXY TCP4 127.0.0.1 127.0.0.1 40000 110\r\n"

// login sends USER and PASS.
func (p *clusterConn) login(user string) error {
	if err := p.OK("USER " + user); err != nil {
		return err
	}
	return p.OK("PASS " + testPassword)
}

// uidl returns the message numbers of the maildrop.
func (p *clusterConn) uidl() ([]int, error) {
	if err := p.OK("UIDL"); err != nil {
		return nil, err
	}
	lines, err := p.ReadMulti()
	if err != nil {
		return nil, err
	}
	var ns []int
	for _, l := range lines {
		n, err := strconv.Atoi(strings.Fields(l)[0])
		if err != nil {
			return nil, fmt.Errorf("UIDL line %q", l)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// retr returns message n with dot-stuffing undone, CRLF kept.
func (p *clusterConn) retr(n int) ([]byte, error) {
	if err := p.OK(fmt.Sprintf("RETR %d", n)); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err := p.CopyMulti(&b)
	return b.Bytes(), err
}

// ledger is the inventory of the cluster test: every message delivered,
// by Message-ID, and what sessions did with it.
type ledger struct {
	mu   sync.Mutex
	msgs map[string]*ledgerEntry
	// problems are integrity errors found while serving: a message not
	// delivered, of another user, or not byte-identical.
	problems []string
}

type ledgerEntry struct {
	user      string
	sha       [32]byte
	delivered bool // `caddy pop3 deliver` exited 0
	attempted bool // it ran, whatever its exit code
	retrieved int  // RETRs of it, in any session
	// commits: sessions that deleted it and got +OK to QUIT;
	// unconfirmed: sessions that deleted it, sent QUIT and got no +OK.
	commits, unconfirmed int
	stored               bool // found by the final pass
}

func newLedger() *ledger { return &ledger{msgs: map[string]*ledgerEntry{}} }

// newMessage makes message seq of user, CRLF line endings, with a line
// that needs dot-stuffing, and records it.
func (l *ledger) newMessage(user string, seq int) (id string, content []byte) {
	id = fmt.Sprintf("<c%d.%s@cluster.test>", seq, user)
	var b strings.Builder
	fmt.Fprintf(&b, "Message-ID: %s\r\nFrom: sender@cluster.test\r\nTo: %s@cluster.test\r\nSubject: cluster %d\r\n\r\n", id, user, seq)
	for i := range 20 + seq%60 {
		fmt.Fprintf(&b, "line %d of message %d for %s %s\r\n", i, seq, user, strings.Repeat("x", (seq*7+i)%70))
		if i%9 == 0 {
			b.WriteString(".a line that begins with a dot\r\n")
		}
	}
	content = []byte(b.String())
	l.mu.Lock()
	l.msgs[id] = &ledgerEntry{user: user, sha: sha256.Sum256(content), attempted: true}
	l.mu.Unlock()
	return id, content
}

// deliveredOK records that the delivery of id was confirmed.
func (l *ledger) deliveredOK(id string) {
	l.mu.Lock()
	l.msgs[id].delivered = true
	l.mu.Unlock()
}

// served checks a message user was given and returns its Message-ID.
func (l *ledger) served(user string, content []byte, final bool) (string, bool) {
	id := messageID(content)
	sum := sha256.Sum256(content)
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.msgs[id]
	switch {
	case !ok:
		l.problems = append(l.problems, fmt.Sprintf("%s was served a message that was never delivered (Message-ID %q, %d bytes)", user, id, len(content)))
		return "", false
	case e.user != user:
		l.problems = append(l.problems, fmt.Sprintf("%s was served %s, a message of %s", user, id, e.user))
		return "", false
	case e.sha != sum:
		l.problems = append(l.problems, fmt.Sprintf("%s: %s is not byte-identical to what was delivered (%d bytes)", user, id, len(content)))
		return "", false
	}
	if final {
		if e.stored {
			l.problems = append(l.problems, fmt.Sprintf("%s: %s is stored twice", user, id))
		}
		e.stored = true
	} else {
		e.retrieved++
	}
	return id, true
}

// quit records the end of a session that deleted ids: confirmed is
// whether QUIT got +OK.
func (l *ledger) quit(ids []string, confirmed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if confirmed {
			l.msgs[id].commits++
		} else {
			l.msgs[id].unconfirmed++
		}
	}
}

// clusterCounts is what the cluster test reports.
type clusterCounts struct {
	attempted, delivered   int // deliveries run, and confirmed
	retrieved, retrievedBy int // messages retrieved and deleted with a confirmed QUIT; RETRs in all
	stored                 int // messages still stored at the end
	unconfirmedGone        int // gone after a QUIT that got no +OK
	neverArrived           int // failed deliveries not found
	lost, duplicated       int // integrity errors
	undeleted, wrongGone   int
}

// verdict compares what the final pass found with what sessions did.
func (l *ledger) verdict() (c clusterCounts, errs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	errs = append(errs, l.problems...)
	for id, e := range l.msgs {
		c.attempted++
		c.retrievedBy += e.retrieved
		if e.delivered {
			c.delivered++
		}
		switch {
		case e.commits > 1:
			c.duplicated++
			errs = append(errs, fmt.Sprintf("%s was deleted by %d sessions whose QUIT succeeded: served after its deletion", id, e.commits))
		case e.stored && e.commits == 1:
			c.undeleted++
			errs = append(errs, fmt.Sprintf("%s is still stored after a session deleted it and QUIT got +OK", id))
		case e.stored:
			c.stored++
		case e.commits == 1:
			c.retrieved++
		case e.unconfirmed > 0:
			c.unconfirmedGone++
		case e.retrieved > 0:
			c.wrongGone++
			errs = append(errs, fmt.Sprintf("%s was retrieved %d times, never deleted with a QUIT, and is gone", id, e.retrieved))
		case e.delivered:
			c.lost++
			errs = append(errs, fmt.Sprintf("%s: delivered (exit 0), never retrieved, and not stored: lost", id))
		default:
			c.neverArrived++
		}
	}
	return c, errs
}
