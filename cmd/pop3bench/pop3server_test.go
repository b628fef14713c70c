package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// flaw is a way the test server can get POP3 wrong, to show that the
// benchmark notices.
type flaw int

const (
	flawNone         flaw = iota
	flawNoStuffing        // lines that begin with '.' are sent as they are
	flawBareLF            // LF line endings are sent unchanged
	flawListSize          // LIST reports one octet more than RETR sends
	flawStatSize          // STAT's total disagrees with LIST
	flawDuplicateUID      // two messages share a UIDL value
	flawCorrupt           // one byte of RETR is changed, size kept
	flawNoClose           // the connection stays open after QUIT
)

// testPOP3 is a small, single-purpose POP3 server on loopback for the
// client's tests: one mailbox of LF-ended messages per user, one password.
type testPOP3 struct {
	ln    net.Listener
	boxes map[string][]string
	pass  string
	flaw  flaw
	wg    sync.WaitGroup
}

func startTestPOP3(t *testing.T, boxes map[string][]string, f flaw) *testPOP3 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testPOP3{ln: ln, boxes: boxes, pass: "pw", flaw: f}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				s.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *testPOP3) addr() string { return s.ln.Addr().String() }

// wire returns a message as sent: CRLF line endings (unless the flaw says
// otherwise), before dot-stuffing.
func (s *testPOP3) wire(msg string) string {
	if s.flaw == flawBareLF {
		return msg
	}
	return strings.ReplaceAll(msg, "\n", "\r\n")
}

func (s *testPOP3) serve(conn net.Conn) {
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	defer w.Flush()
	fmt.Fprint(w, "+OK test ready\r\n")
	w.Flush()
	var user string
	var box []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(strings.TrimRight(line, "\r\n"))
		if len(f) == 0 {
			fmt.Fprint(w, "-ERR empty\r\n")
			w.Flush()
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "USER":
			user = f[1]
			fmt.Fprint(w, "+OK\r\n")
		case "PASS":
			if b, ok := s.boxes[user]; ok && f[1] == s.pass {
				box = b
				fmt.Fprint(w, "+OK logged in\r\n")
			} else {
				fmt.Fprint(w, "-ERR [AUTH] no\r\n")
			}
		case "AUTH":
			if len(f) < 3 || f[1] != "PLAIN" {
				fmt.Fprint(w, "-ERR unsupported\r\n")
				break
			}
			dec, _ := base64.StdEncoding.DecodeString(f[2])
			parts := strings.Split(string(dec), "\x00")
			if b, ok := s.boxes[parts[1]]; ok && len(parts) == 3 && parts[2] == s.pass {
				box = b
				fmt.Fprint(w, "+OK logged in\r\n")
			} else {
				fmt.Fprint(w, "-ERR [AUTH] no\r\n")
			}
		case "STAT":
			total := 0
			for _, m := range box {
				total += len(s.wire(m))
			}
			switch s.flaw {
			case flawStatSize:
				total += 7
			case flawListSize:
				total += len(box) // consistent with LIST
			}
			fmt.Fprintf(w, "+OK %d %d\r\n", len(box), total)
		case "LIST":
			fmt.Fprint(w, "+OK\r\n")
			for i, m := range box {
				size := len(s.wire(m))
				if s.flaw == flawListSize {
					size++
				}
				fmt.Fprintf(w, "%d %d\r\n", i+1, size)
			}
			fmt.Fprint(w, ".\r\n")
		case "UIDL":
			fmt.Fprint(w, "+OK\r\n")
			for i := range box {
				uid := "uid-" + strconv.Itoa(i)
				if s.flaw == flawDuplicateUID {
					uid = "uid-same"
				}
				fmt.Fprintf(w, "%d %s\r\n", i+1, uid)
			}
			fmt.Fprint(w, ".\r\n")
		case "RETR":
			n, _ := strconv.Atoi(f[1])
			m := s.wire(box[n-1])
			if s.flaw == flawCorrupt {
				m = strings.Replace(m, "e", "E", 1)
			}
			fmt.Fprintf(w, "+OK %d octets\r\n", len(m))
			for _, l := range strings.SplitAfter(m, "\n") {
				if l == "" {
					continue
				}
				if s.flaw != flawNoStuffing && strings.HasPrefix(l, ".") {
					w.WriteByte('.')
				}
				w.WriteString(l)
			}
			fmt.Fprint(w, ".\r\n")
		case "NOOP":
			fmt.Fprint(w, "+OK\r\n")
		case "QUIT":
			fmt.Fprint(w, "+OK bye\r\n")
			w.Flush()
			if s.flaw == flawNoClose {
				_, _ = r.ReadByte() // wait for the client to give up
			}
			return
		default:
			fmt.Fprint(w, "-ERR unknown\r\n")
		}
		w.Flush()
	}
}

// sampleBoxes is a maildrop per user with dot lines, empty lines and a
// line longer than the smallest read buffer.
func sampleBoxes() map[string][]string {
	long := strings.Repeat("0123456789abcdef", 100) // 1600 octets
	return map[string][]string{
		"user000": {
			"Subject: one\n\nhello\n.dot\n..\n.\n",
			"Subject: two\n\n" + long + "\n\n\nend\n",
		},
		"user001": {"Subject: three\n\nbody\n"},
	}
}

// writeSourceTree writes boxes as maildirs under a temporary root.
func writeSourceTree(t *testing.T, boxes map[string][]string) string {
	t.Helper()
	root := t.TempDir()
	g := &genConfig{out: root}
	for user, msgs := range boxes {
		if _, err := g.writeMaildir(user, 0); err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			writeFile(t, root+"/"+user+"/Maildir/cur/"+strconv.Itoa(i)+".test:2,", m)
		}
	}
	return root
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
