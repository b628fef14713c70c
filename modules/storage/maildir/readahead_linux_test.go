package maildir

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkColdRead measures reading a 5 MiB message file from the disk,
// not the page cache (each iteration evicts the file's pages with
// POSIX_FADV_DONTNEED, which touches this file only), with the kernel's
// default read-ahead and with the POSIX_FADV_SEQUENTIAL advice that
// openMessage gives files of sequentialFrom octets and more.
func BenchmarkColdRead(b *testing.B) {
	dir, err := os.MkdirTemp("/var/tmp", "readahead-bench")
	if err != nil {
		b.Skip("no disk-backed /var/tmp:", err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "msg")
	msg := make([]byte, 5<<20)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	f, err := os.Create(path)
	if err == nil {
		_, err = f.Write(msg)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	buf := make([]byte, 128<<10)
	for _, advise := range []bool{false, true} {
		name := "default"
		if advise {
			name = "sequential"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
					b.Fatal(err)
				}
				if advise {
					adviseSequential(fd, int64(len(msg)))
				}
				mf := &messageFile{fd: fd, path: path, left: -1}
				for {
					_, err := mf.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				mf.Close()
			}
		})
	}
}
