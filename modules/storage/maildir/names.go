package maildir

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// A maildir file name is <base>[,<field>...][:<info>]: the unique base
// (everything before the first ',' or ':'), optional fields such as
// S=<bytes on disk> and W=<size with CRLF line endings>, then the info
// part, ":2,<flags>" once the message is in cur/. On Windows, where ':'
// cannot be in a file name, the info part starts with infoSep (';')
// instead; base, fields and so UIDLs and sizes are the same.

// splitName splits a maildir file name into its base, its fields part
// (empty or starting with ',') and its info part (empty or starting with
// infoSep).
func splitName(name string) (base, fields, info string) {
	rest := name
	if i := strings.IndexByte(rest, infoSep); i >= 0 {
		rest, info = rest[:i], rest[i:]
	}
	base = rest
	if i := strings.IndexByte(rest, ','); i >= 0 {
		base, fields = rest[:i], rest[i:]
	}
	return base, fields, info
}

// baseOf returns the unique base of a maildir file name.
func baseOf(name string) string {
	base, _, _ := splitName(name)
	return base
}

// wireSizeField returns the value of the W= field in fields, if there is a
// valid one.
func wireSizeField(fields string) (int64, bool) {
	for f := range strings.SplitSeq(fields, ",") {
		if v, ok := strings.CutPrefix(f, "W="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil && n >= 0 {
				return n, true
			}
		}
	}
	return 0, false
}

// uidFor returns the UIDL of a message with the given base: the base
// itself when it is a valid UIDL (1 to 70 characters in 0x21-0x7E),
// otherwise a hash of it.
func uidFor(base string) string {
	if validUID(base) {
		return base
	}
	return hashUID(base)
}

// hashUID returns a stable UIDL made from s: 32 hex digits of its SHA-256.
func hashUID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// validUID reports whether s can be used as a UIDL as it is.
func validUID(s string) bool {
	if len(s) < 1 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// compareNames orders maildir names the way they were delivered: runs of
// digits compare as numbers, so "1700000000.M5P1Q9" comes before
// "1700000000.M12P1Q10" and a ten-digit timestamp before an eleven-digit
// one; everything else compares byte by byte.
func compareNames(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			if c := compareNumbers(na, nb); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

// digitRun splits s after its leading run of digits.
func digitRun(s string) (digits, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// compareNumbers compares two runs of decimal digits by value, and by
// length (fewer leading zeros first) when the values are equal.
func compareNumbers(a, b string) int {
	ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(ta) != len(tb) {
		return len(ta) - len(tb)
	}
	if c := strings.Compare(ta, tb); c != 0 {
		return c
	}
	return len(a) - len(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
