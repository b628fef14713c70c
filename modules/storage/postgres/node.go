package postgres

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// nodeName is the lease owner this store writes: host, pid and a random
// part, so that an operator can tell which node holds a maildrop. Only
// the fencing token decides anything; the name is for people.
func nodeName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
}
