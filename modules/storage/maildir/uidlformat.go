package maildir

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultUIDLFormat is Dovecot's default pop3_uidl_format: the message's
// IMAP UID and the folder's UIDVALIDITY, each as 8 hex digits.
const DefaultUIDLFormat = "%08Xu%08Xv"

// uidlFormat is a compiled Dovecot pop3_uidl_format: how the UIDL of a
// message listed in dovecot-uidlist is made.
type uidlFormat struct {
	source string // as configured
	parts  []uidlPart
}

// uidlPart is a literal (variable 0) or one variable of a format.
type uidlPart struct {
	literal  string
	variable byte // 'u', 'v', 'f', 'g' or 0
	width    int  // zero-padded minimum width
	hex      bool // the X modifier: a number in lower-case hex, as Dovecot prints it
}

// parseUIDLFormat compiles a Dovecot pop3_uidl_format. It accepts the
// variables a maildir can derive from dovecot-uidlist and its file names:
// %u (IMAP UID), %v (UIDVALIDITY), %f (the file name without its info
// part, fields such as ",S=" included, as Dovecot shows it), %g (Dovecot
// GUID: the G field, else what %f is), also as %{uid},
// %{uidvalidity}, %{filename} and %{guid}; an optional zero-padded width
// and the X (hex) modifier, as in %08Xu; and %% for a '%'. %m (the MD5 of
// the headers, which Dovecot keeps only in its index) and anything else
// are refused.
func parseUIDLFormat(s string) (*uidlFormat, error) {
	if s == "" {
		return nil, fmt.Errorf("empty format")
	}
	f := &uidlFormat{source: s}
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if c < 0x21 || c > 0x7e {
				return nil, fmt.Errorf("%q: a UIDL cannot contain %q", s, c)
			}
			lit.WriteByte(c)
			continue
		}
		i++
		if i < len(s) && s[i] == '%' {
			lit.WriteByte('%')
			continue
		}
		p := uidlPart{}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i > start {
			w, err := strconv.Atoi(s[start:i])
			if err != nil || w > 64 {
				return nil, fmt.Errorf("%q: bad width %q", s, s[start:i])
			}
			p.width = w
		}
		if i < len(s) && s[i] == 'X' {
			p.hex = true
			i++
		}
		if i >= len(s) {
			return nil, fmt.Errorf("%q: ends inside a variable", s)
		}
		name := string(s[i])
		if s[i] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed %%{", s)
			}
			name = s[i+1 : i+end]
			i += end
		}
		switch name {
		case "u", "uid":
			p.variable = 'u'
		case "v", "uidvalidity":
			p.variable = 'v'
		case "f", "filename":
			p.variable = 'f'
		case "g", "guid":
			p.variable = 'g'
		case "m", "md5":
			return nil, fmt.Errorf("%q: %%m (the MD5 of the headers) is kept only in Dovecot's index and cannot be derived from a maildir", s)
		default:
			return nil, fmt.Errorf("%q: unsupported variable %%%s (supported: %%u, %%v, %%f, %%g)", s, name)
		}
		if p.hex && (p.variable == 'f' || p.variable == 'g') {
			return nil, fmt.Errorf("%q: the X modifier applies to numbers (%%u, %%v) only", s)
		}
		if lit.Len() > 0 {
			f.parts = append(f.parts, uidlPart{literal: lit.String()})
			lit.Reset()
		}
		f.parts = append(f.parts, p)
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, uidlPart{literal: lit.String()})
	}
	return f, nil
}

// uidl returns the UIDL the format gives the message rec of a uidlist
// with the given UIDVALIDITY. Like Dovecot, a P (saved POP3 UIDL) field
// takes precedence over the format.
func (f *uidlFormat) uidl(validity uint32, rec uidRecord) string {
	if rec.pop3 != "" {
		return rec.pop3
	}
	var b strings.Builder
	for _, p := range f.parts {
		var v string
		switch p.variable {
		case 0:
			b.WriteString(p.literal)
			continue
		case 'u', 'v':
			n := uint64(rec.uid)
			if p.variable == 'v' {
				n = uint64(validity)
			}
			base := 10
			if p.hex {
				base = 16
			}
			v = strconv.FormatUint(n, base)
		case 'f':
			v = dovecotFileName(rec.fname)
		case 'g':
			v = rec.guid
			if v == "" {
				v = dovecotFileName(rec.fname)
			}
		}
		for n := len(v); n < p.width; n++ {
			b.WriteByte('0')
		}
		b.WriteString(v)
	}
	return b.String()
}

// defaultUIDLFormat is DefaultUIDLFormat, compiled.
var defaultUIDLFormat = func() *uidlFormat {
	f, err := parseUIDLFormat(DefaultUIDLFormat)
	if err != nil {
		panic(err)
	}
	return f
}()

// dovecotFileName is a maildir file name as Dovecot's %f shows it: up to
// the ':' of the info part (fields such as ",S=<size>" stay).
func dovecotFileName(name string) string {
	name, _, _ = strings.Cut(name, ":")
	return name
}
