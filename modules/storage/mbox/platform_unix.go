// Unix gives mbox every lock it takes: nothing to refuse.

//go:build unix

package mbox

// platformSupported reports why this system cannot serve mbox spools:
// Unix can.
func platformSupported() error { return nil }
