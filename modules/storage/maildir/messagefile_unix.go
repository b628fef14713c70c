// Unix gives message reads bare descriptors, kept away from the network poller.

//go:build unix

package maildir

import (
	"io"
	"io/fs"
	"syscall"
)

// messageFile reads one message file through its descriptor. A session
// opens a file per RETR; os.File would also try to register each one with
// the network poller (which regular files refuse) and attach a cleanup to
// it, which is measurable when sessions are short. The caller closes it.
//
// A message file is not written once it is in cur/ or new/, so the size
// seen at open is its end: the read that reaches it returns io.EOF with
// the last octets, which saves the system call that would only say so
// (one per RETR, a noticeable share of a session of small messages).
type messageFile struct {
	fd   int
	path string
	left int64 // octets up to the size seen at open; < 0: read to EOF
	size int64 // as fstat(2) gave it at open
}

// statSize returns the file's size as it was when it was opened.
func (f *messageFile) statSize() int64 { return f.size }

// Read implements io.Reader.
func (f *messageFile) Read(p []byte) (int, error) {
	if f.fd < 0 {
		return 0, fs.ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.left == 0 {
		return 0, io.EOF
	}
	for {
		n, err := syscall.Read(f.fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		if n == 0 {
			return 0, io.EOF
		}
		if f.left > 0 {
			if f.left -= min(int64(n), f.left); f.left == 0 {
				return n, io.EOF
			}
		}
		return n, nil
	}
}

// Close releases the descriptor. Closing twice is an error, as for os.File.
func (f *messageFile) Close() error {
	if f.fd < 0 {
		return fs.ErrClosed
	}
	err := syscall.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}

// Interface guard
var _ io.ReadCloser = (*messageFile)(nil)
