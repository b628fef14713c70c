package netconn

import (
	"io"
	"net"
	"testing"
)

type tally struct{ in, out int }

func (t *tally) CountIn(n int)  { t.in += n }
func (t *tally) CountOut(n int) { t.out += n }

func TestCounting(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var tl tally
	c := &Counting{Conn: a, Counter: &tl}
	go func() {
		buf := make([]byte, 5)
		_, _ = io.ReadFull(b, buf)
		_, _ = b.Write([]byte("hello, world"))
	}()
	if _, err := c.Write([]byte("+OK\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 12)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if tl.in != 12 || tl.out != 5 {
		t.Errorf("counted %d in, %d out; want 12 in, 5 out", tl.in, tl.out)
	}
}
