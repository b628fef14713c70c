package pop3server

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// benchMessage builds a message of about size bytes: headers, then text
// lines of 60-odd characters, one in twenty beginning with '.', with the
// given line ending.
func benchMessage(size int, eol string) []byte {
	var b bytes.Buffer
	b.WriteString("Return-Path: <bob@example.org>" + eol + "From: Bob <bob@example.org>" + eol +
		"To: alice@example.com" + eol + "Subject: benchmark" + eol + "Message-ID: <1@example.org>" + eol + eol)
	text := "the quick brown fox jumps over the lazy dog, again and again"
	for i := 0; b.Len() < size; i++ {
		if i%20 == 7 {
			b.WriteString(".")
		}
		b.WriteString(text)
		b.WriteString(eol)
	}
	return b.Bytes()
}

// benchMessageNoDots is benchMessage without lines that begin with '.': a
// message whose wire form is the file itself when eol is CRLF.
func benchMessageNoDots(size int, eol string) []byte {
	return bytes.ReplaceAll(benchMessage(size, eol), []byte(eol+"."), []byte(eol+"-"))
}

// benchMessageCase is one message the writer benchmarks send.
type benchMessageCase struct {
	name string
	msg  []byte
}

// benchWriter runs write on each case into a session-sized bufio.Writer
// that discards.
func benchWriter(b *testing.B, cases []benchMessageCase, write func(io.Writer, io.Reader, int, []byte) (bool, error), head []byte) {
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			w := bufio.NewWriterSize(io.Discard, writeBufferSize)
			r := bytes.NewReader(bc.msg)
			b.SetBytes(int64(len(bc.msg)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(bc.msg)
				if _, err := write(w, r, allLines, head); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteMessage measures the RETR writer: LF to CRLF conversion,
// dot-stuffing and the terminator, into a session-sized bufio.Writer.
func BenchmarkWriteMessage(b *testing.B) {
	benchWriter(b, []benchMessageCase{
		{"4KiB-LF", benchMessage(4<<10, "\n")},
		{"4KiB-CRLF", benchMessage(4<<10, "\r\n")},
		{"5MiB-LF", benchMessage(5<<20, "\n")},
		{"5MiB-CRLF", benchMessage(5<<20, "\r\n")},
		{"5MiB-CRLF-no-dots", benchMessageNoDots(5<<20, "\r\n")},
		{"5MiB-one-line", []byte(strings.Repeat("x", 5<<20))},
	}, writeMessage, nil)
}

// BenchmarkWriteMessageLines measures the line-by-line writer, which TOP
// uses and RETR used before the in-place chunk converter, on the same
// messages: the two side by side show what writeMessage gained.
func BenchmarkWriteMessageLines(b *testing.B) {
	benchWriter(b, []benchMessageCase{
		{"4KiB-LF", benchMessage(4<<10, "\n")},
		{"5MiB-LF", benchMessage(5<<20, "\n")},
		{"5MiB-CRLF", benchMessage(5<<20, "\r\n")},
		{"5MiB-CRLF-no-dots", benchMessageNoDots(5<<20, "\r\n")},
	}, writeMessageLines, []byte("+OK\r\n"))
}

// BenchmarkWriteMessageTop measures TOP with 10 body lines of a 5 MiB
// message: it must stop reading early.
func BenchmarkWriteMessageTop(b *testing.B) {
	msg := benchMessage(5<<20, "\n")
	w := bufio.NewWriterSize(io.Discard, writeBufferSize)
	r := bytes.NewReader(msg)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(msg)
		if _, err := writeMessage(w, r, 10, nil); err != nil {
			b.Fatal(err)
		}
		_ = w.Flush()
	}
}
