package pop3server

import (
	"bytes"
	"errors"
	"strconv"
)

// command is one parsed command line: an upper-cased keyword and its
// arguments. The arguments alias the line buffer and are only valid until
// the next line is read. They are held in a fixed array, so that parsing a
// command allocates nothing.
type command struct {
	name  string
	argv  [maxArgs + 1][]byte
	nargs int
	// rest is everything after the keyword and one space, for commands
	// whose single argument may contain spaces (PASS).
	rest []byte
}

// args returns the arguments split out of the line (at most maxArgs+1).
func (c *command) args() [][]byte { return c.argv[:c.nargs] }

// Errors from parsing a command line.
var (
	errEmptyCommand = errors.New("empty command")
	errBadKeyword   = errors.New("invalid command keyword")
)

// maxArgs is the most arguments any POP3 command takes as separate words
// (APOP, TOP: 2). parseCommand keeps one more, so that a command with too
// many is detected, and drops the rest.
const maxArgs = 2

// maxKeywordLength is the longest keyword RFC 2449 allows.
const maxKeywordLength = 4

// knownKeywords maps a keyword's bytes to its interned name, so parsing does
// not allocate a string for each command; it is filled with the command
// table (commands.go), in the same init.
var knownKeywords = map[string]string{}

// parseCommand splits a line (without its CRLF) into a keyword and
// arguments separated by single or repeated spaces. Keywords are
// case-insensitive; arguments are kept as sent. At most maxArgs+1 arguments
// are split out; rest always holds the whole argument text.
func parseCommand(line []byte) (command, error) {
	var cmd command
	if len(bytes.TrimRight(line, " ")) == 0 {
		return cmd, errEmptyCommand
	}
	kwEnd := bytes.IndexByte(line, ' ')
	if kwEnd < 0 {
		kwEnd = len(line)
	}
	kw := line[:kwEnd]
	if len(kw) < 3 || len(kw) > maxKeywordLength {
		return cmd, errBadKeyword
	}
	var upper [maxKeywordLength]byte
	for i, c := range kw {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c < 'A' || c > 'Z' {
			return cmd, errBadKeyword
		}
		upper[i] = c
	}
	name, ok := knownKeywords[string(upper[:len(kw)])]
	if !ok {
		name = string(upper[:len(kw)])
	}
	cmd.name = name
	if kwEnd == len(line) {
		return cmd, nil
	}
	cmd.rest = line[kwEnd+1:]
	for p := cmd.rest; cmd.nargs < len(cmd.argv); {
		for len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		if len(p) == 0 {
			break
		}
		end := bytes.IndexByte(p, ' ')
		if end < 0 {
			end = len(p)
		}
		cmd.argv[cmd.nargs] = p[:end:end]
		cmd.nargs++
		p = p[end:]
	}
	return cmd, nil
}

// parseNumber parses a POP3 numeric argument: one or more decimal digits, no
// sign, and no more than fits in an int. ok is false for anything else.
func parseNumber(b []byte) (n int, ok bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, false
	}
	return v, true
}
