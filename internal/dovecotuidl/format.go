// Package dovecotuidl compiles and expands Dovecot's pop3_uidl_format, so
// that storage backends can show the UIDLs Dovecot showed for the same
// messages.
package dovecotuidl

import (
	"fmt"
	"strconv"
	"strings"
)

// Default is Dovecot's default pop3_uidl_format: the message's IMAP UID
// and the folder's UIDVALIDITY, each as 8 hex digits.
const Default = "%08Xu%08Xv"

// Vars are what a backend knows about a message that Dovecot listed.
type Vars struct {
	UID      uint32 // %u, the IMAP UID
	Validity uint32 // %v, the UIDVALIDITY
	FileName string // %f, the maildir file name as Dovecot shows it
	GUID     string // %g, the Dovecot GUID
}

// Format is a compiled pop3_uidl_format.
type Format struct {
	source string
	parts  []part
}

// part is a literal (variable 0) or one variable of a format.
type part struct {
	literal  string
	variable byte // 'u', 'v', 'f', 'g' or 0
	width    int  // zero-padded minimum width
	hex      bool // the X modifier: a number in lower-case hex, as Dovecot prints it
}

// Parse compiles a Dovecot pop3_uidl_format. allowed lists the variables
// the backend can derive, of u (IMAP UID), v (UIDVALIDITY), f (file name)
// and g (GUID); they may also be written %{uid}, %{uidvalidity},
// %{filename} and %{guid}, with an optional zero-padded width and the X
// (hex) modifier, as in %08Xu; %% is a '%'. %m (the MD5 of the headers,
// which Dovecot keeps only in its index) and anything else are refused.
func Parse(s, allowed string) (*Format, error) {
	if s == "" {
		return nil, fmt.Errorf("empty format")
	}
	f := &Format{source: s}
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
		p := part{}
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
			return nil, fmt.Errorf("%q: %%m (the MD5 of the headers) is kept only in Dovecot's index and cannot be derived here", s)
		default:
			return nil, fmt.Errorf("%q: unsupported variable %%%s (supported: %s)", s, name, supported(allowed))
		}
		if !strings.ContainsRune(allowed, rune(p.variable)) {
			return nil, fmt.Errorf("%q: %%%c cannot be derived here (supported: %s)", s, p.variable, supported(allowed))
		}
		if p.hex && (p.variable == 'f' || p.variable == 'g') {
			return nil, fmt.Errorf("%q: the X modifier applies to numbers (%%u, %%v) only", s)
		}
		if lit.Len() > 0 {
			f.parts = append(f.parts, part{literal: lit.String()})
			lit.Reset()
		}
		f.parts = append(f.parts, p)
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, part{literal: lit.String()})
	}
	return f, nil
}

// supported lists the allowed variables for an error message.
func supported(allowed string) string {
	var out []string
	for _, c := range allowed {
		out = append(out, "%"+string(c))
	}
	return strings.Join(out, ", ")
}

// MustParse is Parse for formats known to be valid; it panics otherwise.
func MustParse(s, allowed string) *Format {
	f, err := Parse(s, allowed)
	if err != nil {
		panic(err)
	}
	return f
}

// String returns the format as it was written.
func (f *Format) String() string { return f.source }

// Expand returns the UIDL the format gives a message.
func (f *Format) Expand(v Vars) string {
	var b strings.Builder
	for _, p := range f.parts {
		var s string
		switch p.variable {
		case 0:
			b.WriteString(p.literal)
			continue
		case 'u', 'v':
			n := uint64(v.UID)
			if p.variable == 'v' {
				n = uint64(v.Validity)
			}
			base := 10
			if p.hex {
				base = 16
			}
			s = strconv.FormatUint(n, base)
		case 'f':
			s = v.FileName
		case 'g':
			s = v.GUID
		}
		for n := len(s); n < p.width; n++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	return b.String()
}
