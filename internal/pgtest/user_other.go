//go:build !unix

package pgtest

import "os/exec"

// credential is unused where there is no root: the server runs as this
// process's user.
type credential struct{}

func serverUser() (*credential, error) { return nil, nil }
func (*credential) own(string) error   { return nil }
func (*credential) apply(*exec.Cmd)    {}

// processAlive cannot tell here: a cluster is never taken for stale.
func processAlive(int) bool { return true }
