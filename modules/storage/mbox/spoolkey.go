//go:build unix

package mbox

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// keyPath returns the name of the file that holds the secret key of
// spool: a hidden file beside it, mode 0600.
func keyPath(spool string) string {
	return filepath.Join(filepath.Dir(spool), "."+filepath.Base(spool)+".caddy-pop3.key")
}

// keySize is the size of a spool's secret key.
const keySize = 32

// spoolKey returns the secret key of spool, which authenticates the
// marker lines of the messages this server delivered there (see
// marker.go). The first call creates it: 32 random octets, written in hex
// to a file of mode 0600 beside the spool, atomically (a link that fails
// when another process made the file first, whose key is then used). It
// returns nil and an error when the key can neither be read nor made (the
// directory is not writable): then no marker line is trusted or written.
func spoolKey(spool string) ([]byte, error) {
	path := keyPath(spool)
	key, err := readKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	var raw [keySize]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	tmp := fmt.Sprintf("%s.%x.tmp", path, raw[:4])
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the spool's key: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(raw[:]) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("writing the spool's key: %w", err)
	}
	lerr := os.Link(tmp, path)
	_ = os.Remove(tmp)
	if lerr != nil && !errors.Is(lerr, fs.ErrExist) {
		return nil, fmt.Errorf("creating the spool's key: %w", lerr)
	}
	if lerr == nil {
		_ = syncDir(filepath.Dir(path))
	}
	return readKey(path)
}

// readKey reads a key file, refusing a symbolic link or a file that is
// not regular, private (no access for group or others) and well formed.
func readKey(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the spool's key %s must be a regular file of mode 0600", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4*keySize))
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(string(bytes.TrimSuffix(b, []byte("\n"))))
	if err != nil || len(key) != keySize {
		return nil, fmt.Errorf("the spool's key %s is damaged", path)
	}
	return key, nil
}
