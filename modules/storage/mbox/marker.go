package mbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// The marker line is the one line this backend adds to the messages it
// delivers, right after the From_ line, and hides again when it serves
// them (as Dovecot does with its X-UID and X-IMAPbase headers):
//
//	X-Caddy-POP3: uidl=<uidl>; length=<octets>; mac=<32 hex digits>
//
// uidl is the message's UIDL, given once at delivery, so that two identical
// messages keep distinct UIDLs whatever happens to either. length is the
// number of octets of the message as stored (mboxrd-quoted) after the
// marker line, before the separator: it tells a message without a final
// line ending apart from one with it, which the mbox format alone cannot.
// mac authenticates the line: the first 128 bits of an HMAC-SHA256, with
// the spool's secret key (see spoolKey), of the From_ line, the UIDL and
// the length. A sender cannot make one (it does not know the key), nor
// copy one from another message (the From_ line differs): a marker line
// that does not verify, such as one in mail another MTA wrote, is an
// ordinary header field, served with the message, and sets nothing.
// Another mbox reader shows the line as an ordinary header field.
const markerPrefix = "X-Caddy-POP3: uidl="

// markerLengthField separates the UIDL from the length in a marker line.
const markerLengthField = "; length="

// markerMACField separates the length from the MAC in a marker line.
const markerMACField = "; mac="

// macSize is the number of octets of a marker's MAC.
const macSize = 16

// formatMarker returns the marker line for a message whose From_ line
// (without its line ending) is fromLine, authenticated with key.
func formatMarker(key, fromLine []byte, uid string, length int64) []byte {
	b := make([]byte, 0, len(markerPrefix)+len(uid)+len(markerLengthField)+21+len(markerMACField)+2*macSize+1)
	b = append(b, markerPrefix...)
	b = append(b, uid...)
	b = append(b, markerLengthField...)
	b = strconv.AppendInt(b, length, 10)
	b = append(b, markerMACField...)
	mac := markerMAC(key, fromLine, uid, length)
	b = hex.AppendEncode(b, mac[:])
	return append(b, '\n')
}

// markerMAC returns the MAC of a marker line.
func markerMAC(key, fromLine []byte, uid string, length int64) [macSize]byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("caddy-pop3 marker\x00"))
	h.Write(fromLine)
	h.Write([]byte{0})
	h.Write([]byte(uid))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, length, 10))
	var mac [macSize]byte
	copy(mac[:], h.Sum(nil))
	return mac
}

// verifyMarker parses a complete line (ending with LF) as a marker line of
// the message whose From_ line is fromLine, and checks its MAC with key (in
// constant time). It accepts exactly what formatMarker writes, with a
// valid UIDL; with no key it accepts nothing.
func verifyMarker(key, fromLine, line []byte) (uid string, length int64, ok bool) {
	if len(key) == 0 {
		return "", 0, false
	}
	rest, found := bytes.CutPrefix(line, []byte(markerPrefix))
	if !found {
		return "", 0, false
	}
	rest, found = bytes.CutSuffix(rest, []byte("\n"))
	if !found {
		return "", 0, false
	}
	u, rest, found := bytes.Cut(rest, []byte(markerLengthField))
	if !found || !validUID(u) {
		return "", 0, false
	}
	l, m, found := bytes.Cut(rest, []byte(markerMACField))
	if !found || len(l) == 0 || len(l) > 18 || len(m) != 2*macSize {
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
	var got [macSize]byte
	if k, err := hex.Decode(got[:], m); err != nil || k != macSize {
		return "", 0, false
	}
	want := markerMAC(key, fromLine, string(u), n)
	if !hmac.Equal(got[:], want[:]) {
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
