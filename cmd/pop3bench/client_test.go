package main

import (
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"strings"
	"testing"
	"time"
)

// retrFrom runs client.retr against a server that answers with wire, in
// writes of chunk octets (all at once when chunk is 0): the client then
// sees every way a response can be cut between reads.
func retrFrom(t *testing.T, wire string, bufSize, chunk int) (retrieved, error) {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	go func() {
		buf := make([]byte, 64)
		_, _ = srv.Read(buf) // the RETR command
		out := []byte("+OK\r\n" + wire)
		if chunk == 0 {
			chunk = len(out)
		}
		for len(out) > 0 {
			n := min(chunk, len(out))
			if _, err := srv.Write(out[:n]); err != nil {
				return
			}
			out = out[n:]
		}
	}()
	c := newClient(cli, 2*time.Second, nil, bufSize)
	return c.retr(1)
}

func TestRetr(t *testing.T) {
	const bufSize = 512 // the smallest bufio buffer: long lines come in fragments
	// Lines of every length around the buffer size put the CR at the end
	// of one fragment and the LF at the start of the next.
	for n := bufSize - 4; n <= bufSize+4; n++ {
		line := strings.Repeat("x", n)
		m, err := retrFrom(t, line+"\r\n..dot\r\n.\r\n", bufSize, 0)
		want := line + "\r\n.dot\r\n"
		if err != nil || m.size != int64(len(want)) || m.crc != crc32.Checksum([]byte(want), castagnoli) {
			t.Errorf("line of %d: got %+v, %v; want %d octets", n, m, err, len(want))
		}
	}
	for _, tc := range []struct {
		name, wire, want, bad string
	}{
		{"empty message", ".\r\n", "", ""},
		{"empty lines", "\r\n\r\n.\r\n", "\r\n\r\n", ""},
		{"stuffed terminator look-alike", "..\r\n.\r\n", ".\r\n", ""},
		{"stuffed dots", "...\r\n..x\r\n.\r\n", "..\r\n.x\r\n", ""},
		{"unstuffed dot line", ".x\r\nok\r\n.\r\n", "", "single '.'"},
		{"bare LF", "a\nb\r\n.\r\n", "", "bare LF"},
		{"bare LF on an empty line", "a\r\n\nb\r\n.\r\n", "", "bare LF"},
		{"CR alone then LF line", "a\r\r\n.\r\n", "a\r\r\n", ""},
		{"dots inside lines", "a.b\r\n\r\n..\r\nx.\r\n.\r\n", "a.b\r\n\r\n.\r\nx.\r\n", ""},
		{"stuffed dot then terminator", "..\r\n..\r\n.\r\n", ".\r\n.\r\n", ""},
		{"long line with bare LF", strings.Repeat("y", 700) + "\n.\r\n", "", "bare LF"},
	} {
		for _, chunk := range []int{0, 1, 2, 3, 5} {
			t.Run(fmt.Sprintf("%s/writes of %d", tc.name, chunk), func(t *testing.T) {
				m, err := retrFrom(t, tc.wire, bufSize, chunk)
				if tc.bad != "" {
					var ie *integrityError
					if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.bad) {
						t.Errorf("got %v, want an integrity error with %q", err, tc.bad)
					}
					return
				}
				if err != nil || m.size != int64(len(tc.want)) || m.crc != crc32.Checksum([]byte(tc.want), castagnoli) {
					t.Errorf("got %+v, %v; want %q", m, err, tc.want)
				}
			})
		}
	}
}

func TestStatusLines(t *testing.T) {
	for _, tc := range []struct {
		wire, text string
		ok         bool
	}{
		{"+OK\r\n", "", true},
		{"+OK 2 320\r\n", "2 320", true},
		{"-ERR no\r\n", "", false},
		{"+OK but LF only\n", "", false},
		{"garbage\r\n", "", false},
	} {
		srv, cli := net.Pipe()
		go func() { _, _ = srv.Write([]byte(tc.wire)); srv.Close() }()
		c := newClient(cli, time.Second, nil, 512)
		c.deadline()
		text, err := c.status("test")
		if (err == nil) != tc.ok || text != tc.text {
			t.Errorf("%q: got %q, %v", tc.wire, text, err)
		}
		cli.Close()
	}
}
