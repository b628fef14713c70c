//go:build unix

package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// The UIDL list of a spool, a hidden file beside it (mode 0600), keeps
// the UIDLs this server has shown for messages that carry no marker line
// of its own (mail other MTAs delivered), so that each keeps the UIDL it
// was first shown with whatever happens to the others:
//
//	caddy-pop3 uidl 1
//	<content hash> <uidl>
//	...
//
// one line per such message, in the order of the spool. The content hash
// is the full SHA-256 of the From_ line and the content, without the
// header fields mail readers rewrite (see measure): identical messages
// have the same hash, and their lines, in order, give them their UIDLs in
// order. A session writes the list before it shows a UIDL that is not in
// it; a commit removes the lines of the messages it deletes before it
// deletes them.

// uidListPath returns the name of the UIDL list of spool.
func uidListPath(spool string) string {
	return filepath.Join(filepath.Dir(spool), "."+filepath.Base(spool)+".caddy-pop3.uidl")
}

// uidListHeader is the first line of a UIDL list.
const uidListHeader = "caddy-pop3 uidl 1"

// maxUIDList bounds the size of a UIDL list that is read.
const maxUIDList = 64 << 20

// uidEntry is one line of a UIDL list.
type uidEntry struct {
	key string // the content hash, in hex
	uid string
}

// readUIDList reads the UIDL list of spool; a missing list is empty, and
// so is a damaged one (its UIDLs are given again, from the messages).
func readUIDList(spool string) ([]uidEntry, error) {
	f, err := os.OpenFile(uidListPath(spool), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("the UIDL list %s is not a regular file", f.Name())
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxUIDList))
	if !sc.Scan() || sc.Text() != uidListHeader {
		return nil, nil
	}
	var out []uidEntry
	for sc.Scan() {
		k, u, ok := bytes.Cut(sc.Bytes(), []byte(" "))
		if !ok || len(k) != 64 || !validUID(u) {
			return nil, nil
		}
		out = append(out, uidEntry{key: string(k), uid: string(u)})
	}
	return out, sc.Err()
}

// writeUIDList replaces the UIDL list of spool with entries (removing it
// when there are none), durably: a new file, synced, renamed into place.
func writeUIDList(spool string, entries []uidEntry) error {
	path := uidListPath(spool)
	if len(entries) == 0 {
		err := os.Remove(path)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	var b bytes.Buffer
	b.WriteString(uidListHeader + "\n")
	for _, e := range entries {
		b.WriteString(e.key + " " + e.uid + "\n")
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(b.Bytes())
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// sameEntries reports whether two UIDL lists are equal.
func sameEntries(a, b []uidEntry) bool {
	return slices.Equal(a, b)
}
