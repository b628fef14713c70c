package pop3cmd

import (
	"bytes"
	"strings"
)

// splitEnvelope removes a leading mbox From_ line ("From sender date"),
// which Postfix's local(8) and other MTAs put before the message they pipe
// to a mailbox command, and returns its sender. An RFC 5322 message never
// starts with "From " (a header field name ends with a colon), so nothing
// of the message is lost.
func splitEnvelope(msg []byte) (sender string, rest []byte) {
	if !bytes.HasPrefix(msg, []byte("From ")) {
		return "", msg
	}
	line, rest, _ := bytes.Cut(msg, []byte("\n"))
	fields := strings.Fields(string(line[len("From "):]))
	if len(fields) > 0 {
		sender = fields[0]
	}
	return sender, rest
}

// returnPath returns the address of the first Return-Path header field of
// msg, without angle brackets, or "".
func returnPath(msg []byte) string {
	for len(msg) > 0 {
		line, rest, _ := bytes.Cut(msg, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return "" // end of the header section
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(name), "Return-Path") {
			v := strings.TrimSpace(string(value))
			return strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
		}
		msg = rest
	}
	return ""
}
