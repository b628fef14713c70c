package lmtp

import (
	"bytes"
	"io"
	"math"
	"os"

	"github.com/emersion/go-smtp"
)

// spoolMemory is how much of a message is kept in memory; the rest of a
// larger one goes to a temporary file, so max_connections messages of
// max_message_size each never have to fit in memory.
const spoolMemory = 1 << 20

// spool holds one received message, read once from the client and
// delivered to each recipient from the start.
type spool struct {
	mem  bytes.Buffer
	file *os.File // nil while the message fits in memory
	size int64
}

// fill reads the whole message from r, at most limit octets of it (no
// limit when limit <= 0). A longer message is read to its end and
// dropped, and fill returns smtp.ErrDataTooLarge. On any error, nothing
// of the message may be delivered; the caller closes the spool either way.
func (s *spool) fill(r io.Reader, limit int64) error {
	if limit <= 0 {
		limit = math.MaxInt64 - 1
	}
	lr := &io.LimitedReader{R: r, N: limit + 1}
	n, err := io.CopyN(&s.mem, lr, spoolMemory)
	s.size = n
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp("", "caddy-lmtp-*.eml"); err != nil {
			return err
		}
		s.file = f
		removeOpen(f)
		n, err = io.Copy(f, lr)
		s.size += n
	}
	if err == io.EOF {
		err = nil
	}
	if err == nil && s.size > limit {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		return smtp.ErrDataTooLarge
	}
	return err
}

// reader returns the message from its start.
func (s *spool) reader() (io.Reader, error) {
	mem := bytes.NewReader(s.mem.Bytes())
	if s.file == nil {
		return mem, nil
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.MultiReader(mem, s.file), nil
}

// Close frees the spool.
func (s *spool) Close() error {
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	err := s.file.Close()
	_ = os.Remove(name) // already gone where removeOpen could remove it
	s.file = nil
	return err
}
