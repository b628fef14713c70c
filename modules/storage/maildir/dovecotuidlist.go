package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// DovecotUIDListName is the file in the root of a maildir in which Dovecot
// keeps each message's IMAP UID, the folder's UIDVALIDITY and, for
// migrated or saved POP3 UIDLs, the UIDL itself. The backend only reads
// it, so that messages Dovecot served keep the UIDL Dovecot showed.
const DovecotUIDListName = "dovecot-uidlist"

// maxUIDListSize bounds the dovecot-uidlist read: about 100 bytes a
// message, so room for more than a million messages. A larger file is
// ignored (with a warning) rather than read into memory.
const maxUIDListSize = 128 << 20

// uidRecord is what dovecot-uidlist says about one message.
type uidRecord struct {
	uid   uint32
	fname string // the file name as Dovecot recorded it
	guid  string // the G extension field, if any
	pop3  string // the P extension field (the POP3 UIDL Dovecot shows), if any
}

// uidList is a parsed dovecot-uidlist.
type uidList struct {
	validity uint32
	byBase   map[string]uidRecord
}

// errUIDList says that a dovecot-uidlist could not be understood.
var errUIDList = errors.New("maildir: malformed " + DovecotUIDListName)

// parseUIDList parses a dovecot-uidlist of version 1 ("1 <uidvalidity>
// <nextuid>", then "<uid> <filename>" lines), 2 ("<uid> <flags>
// <filename>") or 3 ("3 V<uidvalidity> N<nextuid> ...", then "<uid>
// [<key><value> ...] :<filename>" lines). Records are keyed by the base
// of their file name, so a message Dovecot recorded in new/, or with other
// flags, is still found after it was moved or renamed. A line that cannot
// be parsed is skipped; a header that cannot is an error.
func parseUIDList(r io.Reader) (*uidList, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: empty", errUIDList)
	}
	header := strings.Fields(sc.Text())
	if len(header) == 0 {
		return nil, fmt.Errorf("%w: empty header", errUIDList)
	}
	l := &uidList{byBase: map[string]uidRecord{}}
	version := header[0]
	switch version {
	case "1", "2":
		if len(header) < 2 {
			return nil, fmt.Errorf("%w: version %s header without UIDVALIDITY", errUIDList, version)
		}
		v, err := strconv.ParseUint(header[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: UIDVALIDITY %q", errUIDList, header[1])
		}
		l.validity = uint32(v)
	case "3":
		for _, f := range header[1:] {
			if rest, ok := strings.CutPrefix(f, "V"); ok {
				v, err := strconv.ParseUint(rest, 10, 32)
				if err != nil {
					return nil, fmt.Errorf("%w: UIDVALIDITY %q", errUIDList, rest)
				}
				l.validity = uint32(v)
			}
		}
	default:
		return nil, fmt.Errorf("%w: unknown version %q", errUIDList, version)
	}
	if l.validity == 0 {
		return nil, fmt.Errorf("%w: no UIDVALIDITY", errUIDList)
	}
	for sc.Scan() {
		rec, ok := parseUIDLine(version, sc.Bytes())
		if !ok {
			continue
		}
		base := baseOf(rec.fname)
		if base == "" {
			continue
		}
		if old, dup := l.byBase[base]; dup && old.uid > rec.uid {
			continue // keep the newest record of a base
		}
		l.byBase[base] = rec
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", errUIDList, err)
	}
	return l, nil
}

// parseUIDLine parses one message line of a dovecot-uidlist of the given
// version.
func parseUIDLine(version string, line []byte) (uidRecord, bool) {
	line = bytes.TrimRight(line, "\r")
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return uidRecord{}, false
	}
	uid, err := strconv.ParseUint(string(line[:sp]), 10, 32)
	if err != nil || uid == 0 {
		return uidRecord{}, false
	}
	rec := uidRecord{uid: uint32(uid)}
	rest := string(line[sp+1:])
	switch version {
	case "1":
		rec.fname = rest
	case "2":
		_, name, ok := strings.Cut(rest, " ")
		if !ok {
			return uidRecord{}, false
		}
		rec.fname = name
	default:
		// Extension fields, each "<key><value>" and space-separated, up
		// to the ':' that starts the file name (which may contain ':'
		// itself, as the info part of the name).
		for rest != "" && rest[0] != ':' {
			field, tail, _ := strings.Cut(rest, " ")
			rest = tail
			if field == "" {
				continue
			}
			switch field[0] {
			case 'G':
				rec.guid = field[1:]
			case 'P':
				rec.pop3 = field[1:]
			}
		}
		if rest == "" {
			return uidRecord{}, false
		}
		rec.fname = rest[1:]
	}
	if rec.fname == "" || strings.ContainsAny(rec.fname, "/\x00") {
		return uidRecord{}, false
	}
	return rec, true
}

// readUIDList reads the dovecot-uidlist of the maildir d, refusing a
// symbolic link or anything that is not a regular file, and a file larger
// than maxUIDListSize. A missing file is (nil, nil).
func readUIDList(d *dir) (*uidList, error) {
	f, err := d.openMessage(DovecotUIDListName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lr := &io.LimitedReader{R: f, N: maxUIDListSize + 1}
	l, err := parseUIDList(lr)
	if err != nil {
		return nil, err
	}
	if lr.N <= 0 {
		return nil, fmt.Errorf("%w: larger than %d bytes", errUIDList, maxUIDListSize)
	}
	return l, nil
}
