package mbox

import (
	"bytes"
	"strconv"
)

// The marker line is the one line this backend adds to the messages it
// delivers, right after the From_ line, and hides again when it serves
// them (as Dovecot does with its X-UID and X-IMAPbase headers):
//
//	X-Caddy-POP3: uidl=<uidl>; length=<octets>
//
// uidl is the message's UIDL, given once at delivery, so that two identical
// messages keep distinct UIDLs whatever happens to either. length is the
// number of octets of the message as stored (mboxrd-quoted) after the
// marker line, before the separator: it tells a message without a final
// line ending apart from one with it, which the mbox format alone cannot.
// Another mbox reader shows the line as an ordinary header field.
const markerPrefix = "X-Caddy-POP3: uidl="

// markerLengthField separates the UIDL from the length in a marker line.
const markerLengthField = "; length="

// formatMarker returns the marker line for a message.
func formatMarker(uid string, length int64) []byte {
	b := make([]byte, 0, len(markerPrefix)+len(uid)+len(markerLengthField)+21)
	b = append(b, markerPrefix...)
	b = append(b, uid...)
	b = append(b, markerLengthField...)
	b = strconv.AppendInt(b, length, 10)
	return append(b, '\n')
}

// parseMarker parses a complete line (ending with LF) as a marker line. It
// accepts exactly what formatMarker writes, with a valid UIDL.
func parseMarker(line []byte) (uid string, length int64, ok bool) {
	rest, found := bytes.CutPrefix(line, []byte(markerPrefix))
	if !found {
		return "", 0, false
	}
	rest, found = bytes.CutSuffix(rest, []byte("\n"))
	if !found {
		return "", 0, false
	}
	u, l, found := bytes.Cut(rest, []byte(markerLengthField))
	if !found || !validUID(u) || len(l) == 0 || len(l) > 18 {
		return "", 0, false
	}
	for _, c := range l {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseInt(string(l), 10, 64)
	if err != nil {
		return "", 0, false
	}
	return string(u), n, true
}

// validUID reports whether b can be a UIDL (RFC 1939, 7): 1 to 70
// characters in 0x21-0x7E. (A UIDL has no space, so "; length=" cannot
// occur inside one.)
func validUID(b []byte) bool {
	if len(b) < 1 || len(b) > 70 {
		return false
	}
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
