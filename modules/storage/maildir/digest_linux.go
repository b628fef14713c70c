// Linux reads a directory's names for a digest straight from getdents64(2), without a string per name.

package maildir

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// direntBufs holds the buffers eachName reads directories into.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// eachName calls f with the name of each message file of d, as names
// lists them (regular files not starting with a dot); the string passed
// to f is only valid during the call.
func (d *dir) eachName(f func(string)) error {
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(d.fd, ".", dirFlags, 0) })
	if err != nil {
		return fmt.Errorf("reading maildir: %w", &fs.PathError{Op: "open", Path: d.path, Err: err})
	}
	defer unix.Close(fd)
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	const (
		recLenOff = int(unsafe.Offsetof(unix.Dirent{}.Reclen))
		typeOff   = int(unsafe.Offsetof(unix.Dirent{}.Type))
		nameOff   = int(unsafe.Offsetof(unix.Dirent{}.Name))
	)
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading maildir: %w", &fs.PathError{Op: "getdents", Path: d.path, Err: err})
		}
		if n <= 0 {
			return nil
		}
		for off := 0; off < n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+recLenOff:]))
			if reclen < nameOff || off+reclen > n {
				return fmt.Errorf("reading maildir %s: malformed directory entry", d.path)
			}
			typ := buf[off+typeOff]
			rec := buf[off+nameOff : off+reclen]
			l := 0
			for l < len(rec) && rec[l] != 0 {
				l++
			}
			off += reclen
			if l == 0 || rec[0] == '.' {
				continue
			}
			name := unsafe.String(&rec[0], l)
			if typ == unix.DT_UNKNOWN {
				var st unix.Stat_t
				if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					continue // gone since the read, as it would be from names
				}
				if st.Mode&unix.S_IFMT == unix.S_IFREG {
					typ = unix.DT_REG
				}
			}
			if typ == unix.DT_REG {
				f(name)
			}
		}
	}
}
