package pop3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-pop3/caddy-pop3/internal/pop3test"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// heldPauses makes every failure delay last until release is called, so
// a test can hold failed logins in the middle of their delay.
type heldPauses struct {
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func newHeldPauses() *heldPauses { return &heldPauses{release: make(chan struct{})} }

func (p *heldPauses) pause(ctx context.Context, _ time.Duration) bool {
	p.mu.Lock()
	p.waiting++
	p.mu.Unlock()
	select {
	case <-p.release:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *heldPauses) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}

// TestWrongPasswordsDoNotTakeUserSlot: ten concurrent wrong-password
// logins for alice, each held in its failure delay, do not make alice's
// own login get -ERR [IN-USE]: the per-user slot is claimed only once the
// password is right.
func TestWrongPasswordsDoNotTakeUserSlot(t *testing.T) {
	held := newHeldPauses()
	l := Limits{MaxConnectionsPerUser: DefaultMaxConnectionsPerUser, AuthFailureLimit: -1, AuthUserFailureLimit: -1}
	ts := newTestServer(t, remoteClients, withLimits(l), func(ts *testServer) { ts.h.Limits.pause = held.pause })
	ts.store.Add("alice", "x\n")
	const attackers = 10
	var attackerClients []*pop3test.Client
	for range attackers {
		c := ts.dial(t)
		c.Cmd("USER alice")
		c.Send("PASS wrong\r\n")
		attackerClients = append(attackerClients, c)
	}
	waitFor(t, "every wrong password is in its failure delay", func() bool { return held.count() == attackers })

	alice := ts.dial(t)
	alice.Cmd("USER alice")
	pop3test.ExpectPrefix(t, "alice's own login during the attack", alice.Cmd("PASS secret pw"), "+OK")

	close(held.release)
	for _, c := range attackerClients {
		pop3test.ExpectPrefix(t, "attacker", c.ReadLine(), "-ERR [AUTH] Authentication failed")
	}
	if _, _, users := ts.h.Limits.conns.Counts(); users != 1 {
		t.Errorf("%d user names hold slots after the failures, want 1 (alice's session)", users)
	}
}

// TestLockoutMetric: caddy_pop3_lockouts_total counts each lockout that
// starts, of an address and of a user name, and not the logins refused
// while locked out.
func TestLockoutMetric(t *testing.T) {
	m := recordMetrics(t)
	ts, _, _, _ := bruteForceServer(t, Limits{AuthFailureLimit: 3, AuthUserFailureLimit: 3})
	c := ts.dial(t)
	for i := range 5 {
		c.Cmd("USER alice")
		pop3test.ExpectPrefix(t, "failure "+strconv.Itoa(i+1), c.Cmd("PASS guess"), "-ERR [AUTH]")
	}
	c.Cmd("QUIT")
	waitSessionsGone(t)
	expectDeltas(t, m.deltas(t), map[string]float64{"caddy_pop3_lockouts_total": 2})
}

// TestAuthLogLinesStrictJSON: the log lines of a failed login, a lockout
// and a login refused during a lockout are valid JSON for a strict
// consumer: no key appears twice, and remote_ip is the client's address.
func TestAuthLogLinesStrictJSON(t *testing.T) {
	var buf syncBuffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	logger := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zap.DebugLevel))
	ts, _, _, _ := bruteForceServer(t, Limits{AuthFailureLimit: 2, AuthUserFailureLimit: -1}, func(ts *testServer) { ts.h.logger = logger })
	c := ts.dial(t)
	for range 3 {
		c.Cmd("USER alice")
		c.Cmd("PASS guess")
	}
	c.Cmd("QUIT")
	waitSessionsGone(t)

	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		obj, err := decodeStrictJSON([]byte(line))
		if err != nil {
			t.Errorf("log line %s: %v", line, err)
			continue
		}
		msg, _ := obj["msg"].(string)
		seen[msg]++
		if strings.HasPrefix(msg, "authentication ") && obj["remote_ip"] != "127.0.0.1" {
			t.Errorf("%s: remote_ip = %v", msg, obj["remote_ip"])
		}
	}
	if seen["authentication failed"] != 3 || seen["authentication lockout"] != 1 {
		t.Errorf("log lines by message: %v; want 3 failures and 1 lockout", seen)
	}
}

// decodeStrictJSON decodes one JSON object and fails on a key that
// appears twice in any object.
func decodeStrictJSON(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func() (any, error)
	walk = func() (any, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case json.Delim('{'):
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if _, dup := obj[k]; dup {
					return nil, fmt.Errorf("duplicate key %q", k)
				}
				if obj[k], err = walk(); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token() // '}'
			return obj, err
		case json.Delim('['):
			var arr []any
			for dec.More() {
				v, err := walk()
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token() // ']'
			return arr, err
		}
		return tok, nil
	}
	v, err := walk()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	return obj, nil
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
