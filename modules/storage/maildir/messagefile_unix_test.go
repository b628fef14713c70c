//go:build unix

package maildir

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestMessageFileEOFWithLastRead checks that the read reaching the size
// seen at open returns io.EOF with the last octets (saving the read that
// would only report the end), for every read size, and that every octet
// arrives.
func TestMessageFileEOFWithLastRead(t *testing.T) {
	root := t.TempDir()
	for _, size := range []int{0, 1, 4096, 100000} {
		msg := bytes.Repeat([]byte("x"), size)
		name := "msg"
		if err := os.WriteFile(filepath.Join(root, name), msg, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := openTree(root, ".", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, bufSize := range []int{1, 4095, 4096, 1 << 20} {
			f, err := d.openMessage(name)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			buf := make([]byte, bufSize)
			reads, eofWithData := 0, false
			for reads < size+2 {
				n, err := f.Read(buf)
				reads++
				got = append(got, buf[:n]...)
				if err == io.EOF {
					eofWithData = n > 0
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			f.Close()
			if !bytes.Equal(got, msg) {
				t.Fatalf("size %d, reads of %d: got %d octets", size, bufSize, len(got))
			}
			if size > 0 && !eofWithData {
				t.Errorf("size %d, reads of %d: the last octets came without io.EOF (one more read needed)", size, bufSize)
			}
		}
		d.close()
	}
}
