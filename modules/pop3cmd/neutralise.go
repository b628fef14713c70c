package pop3cmd

import (
	"bytes"
)

// markerField is the header field name of the mbox backend's marker line
// (see modules/storage/mbox/marker.go).
const markerField = "X-Caddy-POP3"

// forgedField is the name a marker field in incoming mail is renamed to.
const forgedField = "X-Caddy-POP3-Forged"

// neutraliseMarkers renames every X-Caddy-POP3 header field of an
// incoming message (in the header section only) to X-Caddy-POP3-Forged.
// Only this server may write that field, after the From_ line of a
// message it delivers to an mbox, with a MAC that a sender cannot make; a
// sender's copy is kept, under a name that nothing reads, so that no mbox
// reader (an older caddy-pop3 included) can take it for the server's.
func neutraliseMarkers(msg []byte) []byte {
	var out bytes.Buffer
	changed := false
	rest := msg
	for len(rest) > 0 {
		line, after, found := bytes.Cut(rest, []byte("\n"))
		if len(bytes.TrimSuffix(line, []byte("\r"))) == 0 {
			break // the end of the header section
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(bytes.TrimRight(name, " \t"), []byte(markerField)) {
			if !changed {
				out.Grow(len(msg) + len(forgedField))
				out.Write(msg[:len(msg)-len(rest)])
				changed = true
			}
			out.WriteString(forgedField + ":")
			out.Write(value)
		} else if changed {
			out.Write(line)
		}
		if !found {
			rest = nil
			break
		}
		if changed {
			out.WriteByte('\n')
		}
		rest = after
	}
	if !changed {
		return msg
	}
	out.Write(rest)
	return out.Bytes()
}
