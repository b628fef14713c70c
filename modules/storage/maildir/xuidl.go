package maildir

import (
	"bufio"
	"bytes"
	"io"
)

// maxXUIDLHeader bounds how much of a message's header is read to find its
// X-UIDL field (reuse_xuidl).
const maxXUIDLHeader = 64 << 10

// headerXUIDL returns the value of the first X-UIDL header field in the
// message r, if it is a valid UIDL; it reads at most maxXUIDLHeader bytes
// and stops at the end of the header.
func headerXUIDL(r io.Reader) string {
	br := bufio.NewReaderSize(io.LimitReader(r, maxXUIDLHeader), 4096)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer is not an X-UIDL field:
			// skip the rest of it.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err != nil {
				return ""
			}
			continue
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			return "" // the end of the header
		}
		if name, value, ok := bytes.Cut(trimmed, []byte(":")); ok && bytes.EqualFold(name, []byte("X-UIDL")) {
			if v := string(bytes.TrimSpace(value)); validUID(v) {
				return v
			}
			return ""
		}
		if err != nil {
			return ""
		}
	}
}

// xUIDLOf returns the X-UIDL of the message file f of md, or "" when it
// has none or cannot be read.
func (md *maildrop) xUIDLOf(f file) string {
	rc, err := md.openFile(f)
	if err != nil {
		return ""
	}
	defer rc.Close()
	return headerXUIDL(rc)
}
