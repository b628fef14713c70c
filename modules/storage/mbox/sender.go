package mbox

import "strings"

// DefaultSender is the sender on the From_ line of a message delivered
// without one (and of bounces, whose envelope sender is empty).
const DefaultSender = "MAILER-DAEMON"

// maxSender bounds the length of the sender on a From_ line.
const maxSender = 512

// fromLineSender returns the envelope sender (storage.Envelope.Sender)
// fit for a From_ line: without angle brackets, and DefaultSender when
// there is none or it is empty, too long, or has a space or a control
// character (which would break the From_ line).
func fromLineSender(s string) string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	if s == "" || len(s) > maxSender {
		return DefaultSender
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return DefaultSender
		}
	}
	return s
}
