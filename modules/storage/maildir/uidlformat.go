package maildir

import (
	"strings"

	"github.com/caddy-pop3/caddy-pop3/internal/dovecotuidl"
)

// DefaultUIDLFormat is Dovecot's default pop3_uidl_format: the message's
// IMAP UID and the folder's UIDVALIDITY, each as 8 hex digits.
const DefaultUIDLFormat = dovecotuidl.Default

// maildirVars are the pop3_uidl_format variables a maildir can derive:
// %u and %v from dovecot-uidlist, %f from the file name it recorded, %g
// from its G field (else what %f is).
const maildirVars = "uvfg"

// uidlFormat is a compiled Dovecot pop3_uidl_format: how the UIDL of a
// message listed in dovecot-uidlist is made.
type uidlFormat struct {
	source string // as configured
	f      *dovecotuidl.Format
}

// parseUIDLFormat compiles a pop3_uidl_format for a maildir.
func parseUIDLFormat(s string) (*uidlFormat, error) {
	f, err := dovecotuidl.Parse(s, maildirVars)
	if err != nil {
		return nil, err
	}
	return &uidlFormat{source: s, f: f}, nil
}

// uidl returns the UIDL the format gives the message rec of a uidlist
// with the given UIDVALIDITY. Like Dovecot, a P (saved POP3 UIDL) field
// takes precedence over the format.
func (f *uidlFormat) uidl(validity uint32, rec uidRecord) string {
	if rec.pop3 != "" {
		return rec.pop3
	}
	name := dovecotFileName(rec.fname)
	guid := rec.guid
	if guid == "" {
		guid = name
	}
	return f.f.Expand(dovecotuidl.Vars{UID: rec.uid, Validity: validity, FileName: name, GUID: guid})
}

// defaultUIDLFormat is DefaultUIDLFormat, compiled.
var defaultUIDLFormat = &uidlFormat{source: DefaultUIDLFormat, f: dovecotuidl.MustParse(DefaultUIDLFormat, maildirVars)}

// dovecotFileName is a maildir file name as Dovecot's %f shows it: up to
// the ':' of the info part (fields such as ",S=<size>" stay).
func dovecotFileName(name string) string {
	name, _, _ = strings.Cut(name, ":")
	return name
}
