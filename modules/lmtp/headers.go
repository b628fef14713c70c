package lmtp

import "strings"

// traceHeaders are the header lines a local delivery agent adds at the top
// of a message it delivers (RFC 5321 section 4.4 for Return-Path): the
// envelope sender ("<>" for a bounce) and the recipient it was delivered
// to. They end with CRLF, as the message received over LMTP does.
func traceHeaders(sender, recipient string) string {
	return "Return-Path: <" + headerSafe(sender) + ">\r\n" +
		"Delivered-To: " + headerSafe(recipient) + "\r\n"
}

// headerSafe drops the characters that could end or fold a header line;
// go-smtp's address parser lets none of them through, this is a second
// fence.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
