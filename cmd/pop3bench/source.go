package main

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// maxSourceMessage bounds one source message read into memory.
const maxSourceMessage = 256 << 20

// sourceMessage is a message of the source tree as POP3 must send it: its
// size and CRC-32C with every line ending as CRLF and a final line ending.
type sourceMessage struct {
	size int64
	crc  uint32
}

// mailbox is the expected content of one user's maildrop.
type mailbox struct {
	msgs []sourceMessage
	// byKey finds the messages with a given size and CRC.
	byKey map[sourceMessage][]int
}

// source is the expected content of every benchmarked maildrop, read from
// the tree the servers were given a copy of.
type source map[string]*mailbox

// loadSource reads <root>/<user>/Maildir/{new,cur}/* for every user.
func loadSource(root string, users []string) (source, error) {
	src := source{}
	for _, u := range users {
		mb := &mailbox{byKey: map[sourceMessage][]int{}}
		for _, sub := range []string{"new", "cur"} {
			dir := filepath.Join(root, u, "Maildir", sub)
			entries, err := os.ReadDir(dir)
			if err != nil {
				return nil, fmt.Errorf("source: %w", err)
			}
			for _, e := range entries {
				if !e.Type().IsRegular() {
					continue
				}
				m, err := readSourceMessage(filepath.Join(dir, e.Name()))
				if err != nil {
					return nil, err
				}
				mb.byKey[m] = append(mb.byKey[m], len(mb.msgs))
				mb.msgs = append(mb.msgs, m)
			}
		}
		src[u] = mb
	}
	return src, nil
}

func readSourceMessage(path string) (sourceMessage, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return sourceMessage{}, fmt.Errorf("source: %w", err)
	}
	if fi.Size() > maxSourceMessage {
		return sourceMessage{}, fmt.Errorf("source: %s is larger than %d bytes", path, maxSourceMessage)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return sourceMessage{}, fmt.Errorf("source: %w", err)
	}
	return wireForm(b), nil
}

// wireForm returns the size and CRC-32C of b with each bare LF turned into
// CRLF and a CRLF added after a last line that has no line ending: the
// octets a POP3 server sends before dot-stuffing.
func wireForm(b []byte) sourceMessage {
	var m sourceMessage
	crlf := []byte("\r\n")
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			m.add(b)
			m.add(crlf)
			break
		}
		line := b[:i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		m.add(line)
		m.add(crlf)
		b = b[i+1:]
	}
	return m
}

func (m *sourceMessage) add(p []byte) {
	m.crc = crc32.Update(m.crc, castagnoli, p)
	m.size += int64(len(p))
}

// check matches the messages of one session against the user's source
// maildrop: each retrieved message must be a distinct source message, and
// every source message must have been retrieved.
func (mb *mailbox) check(got []retrieved) error {
	if len(got) != len(mb.msgs) {
		return integrityf("maildrop has %d messages, the source has %d", len(got), len(mb.msgs))
	}
	used := make([]bool, len(mb.msgs))
	for n, g := range got {
		found := false
		for _, i := range mb.byKey[sourceMessage{size: g.size, crc: g.crc}] {
			if !used[i] {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return integrityf("message %d (%d octets) matches no source message", n+1, g.size)
		}
	}
	return nil
}
