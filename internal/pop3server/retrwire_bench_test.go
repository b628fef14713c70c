//go:build unix

package pop3server

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRETROverTCP sends a 5 MiB message from a file to a real
// loopback TCP connection, drained by another goroutine, and reports the
// CPU time of both ends per byte next to the raw copy of the same bytes
// from memory: the ceiling. The reader takes exactly the wire form's
// length (its content is checked by the tests of writeMessage). It measures what the RETR fast paths are worth on this
// machine instead of assuming it:
//
//	raw-write          conn.Write from memory, 128 KiB at a time
//	lines-32KiB-LF     the line-by-line writer (TOP's, and RETR's before)
//	whole-LF           writeMessage of a file with LF line endings
//	whole-CRLF         writeMessage of a file already in wire form
//	sendfile-CRLF      io.Copy from the *os.File to the *net.TCPConn
//	                   (sendfile(2)), the path a "wire form is identical"
//	                   flag would allow
func BenchmarkRETROverTCP(b *testing.B) {
	dir := b.TempDir()
	lf := benchMessage(5<<20, "\n")
	crlf := benchMessageNoDots(5<<20, "\r\n")
	lfPath, crlfPath := filepath.Join(dir, "lf"), filepath.Join(dir, "crlf")
	if err := os.WriteFile(lfPath, lf, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(crlfPath, crlf, 0o600); err != nil {
		b.Fatal(err)
	}
	const head = "+OK 5242880 octets\r\n"
	lfWire := int64(len(referenceWire(head, lf, allLines)))
	crlfWire := int64(len(head) + len(crlf) + 3)

	for _, bc := range []struct {
		name string
		path string
		wire int64
		send func(conn *net.TCPConn, w *bufio.Writer, f *os.File) error
	}{
		{"raw-write", "", int64(len(crlf)), func(conn *net.TCPConn, _ *bufio.Writer, _ *os.File) error {
			for p := crlf; len(p) > 0; {
				n, err := conn.Write(p[:min(len(p), 128<<10)])
				if err != nil {
					return err
				}
				p = p[n:]
			}
			return nil
		}},
		{"lines-32KiB-LF", lfPath, lfWire, func(_ *net.TCPConn, w *bufio.Writer, f *os.File) error {
			_, err := writeMessageLines(w, f, allLines, []byte(head))
			return err
		}},
		{"whole-LF", lfPath, lfWire, func(_ *net.TCPConn, w *bufio.Writer, f *os.File) error {
			_, err := writeMessage(w, f, allLines, []byte(head))
			return err
		}},
		{"whole-CRLF", crlfPath, crlfWire, func(_ *net.TCPConn, w *bufio.Writer, f *os.File) error {
			_, err := writeMessage(w, f, allLines, []byte(head))
			return err
		}},
		{"sendfile-CRLF", crlfPath, crlfWire, func(conn *net.TCPConn, w *bufio.Writer, f *os.File) error {
			if _, err := w.WriteString(head); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if _, err := io.Copy(conn, f); err != nil {
				return err
			}
			_, err := conn.Write([]byte(".\r\n"))
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			server, client := tcpPair(b)
			want := make(chan int64)
			got := make(chan error)
			go drain(client, want, got)
			defer close(want)
			w := bufio.NewWriterSize(server, writeBufferSize)
			b.SetBytes(bc.wire)
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				var f *os.File
				if bc.path != "" {
					var err error
					if f, err = os.Open(bc.path); err != nil {
						b.Fatal(err)
					}
				}
				want <- bc.wire
				err := bc.send(server, w, f)
				if err == nil {
					err = w.Flush()
				}
				if f != nil {
					f.Close()
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := <-got; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/float64(bc.wire), "cpu-ms/MB")
		})
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(b *testing.B) (server, client *net.TCPConn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// drain reads exactly n octets for each n received on want, 256 KiB at a
// time, and answers on got.
func drain(conn *net.TCPConn, want <-chan int64, got chan<- error) {
	buf := make([]byte, 256<<10)
	for n := range want {
		var err error
		for n > 0 && err == nil {
			var k int
			k, err = conn.Read(buf[:min(int64(len(buf)), n)])
			n -= int64(k)
		}
		got <- err
	}
}
