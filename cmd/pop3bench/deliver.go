package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// deliverSeq makes the names of delivered messages unique within the run.
var deliverSeq atomic.Int64

// deliverOne delivers one small message into the maildir at root as an
// MTA does: written in tmp/, then renamed into new/, owned like new/
// (the server may run as another user). It returns the file name.
func deliverOne(root string) (string, error) {
	newDir := filepath.Join(root, "new")
	st, err := os.Stat(newDir)
	if err != nil {
		return "", fmt.Errorf("-maildir: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("-maildir: %s is not a directory", newDir)
	}
	now := time.Now()
	seq := deliverSeq.Add(1)
	name := fmt.Sprintf("%d.M%dQ%dP%d.pop3bench", now.Unix(), now.Nanosecond()/1000, seq, os.Getpid())
	body := fmt.Sprintf("From: bench@example.com\r\nTo: poll@example.com\r\nMessage-ID: <%s@pop3bench>\r\nSubject: delivery %d\r\n\r\ndelivered between polls\r\n", name, seq)
	tmp := filepath.Join(root, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = chownLike(tmp, st)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(newDir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return name, nil
}
