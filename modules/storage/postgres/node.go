package postgres

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
)

// nodeName is the start of the lease owners this store writes: host, pid
// and a random part, so that an operator can tell which node holds a
// maildrop, and so that no two stores (in this process or in another one,
// on any host, before or after a restart) write the same owners.
func nodeName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	var r [8]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
}

// sessions numbers the leases this process takes.
var sessions atomic.Uint64

// sessionOwner returns the lease owner of a new session: the node's name
// and a number no other session of this process gets. No two sessions
// ever write the same owner, which is what makes fencing by token and
// owner safe even when a database crash loses a lease take and the same
// token number is issued again (see lease.go).
func (p *Postgres) sessionOwner() string {
	return p.owner + "/" + strconv.FormatUint(sessions.Add(1), 10)
}
