package mbox

import (
	"context"
	"strings"
)

// DefaultSender is the sender on the From_ line of a message delivered
// without one (and of bounces, whose envelope sender is empty).
const DefaultSender = "MAILER-DAEMON"

// maxSender bounds the length of the sender on a From_ line.
const maxSender = 512

// senderKey is the context key of the envelope sender.
type senderKey struct{}

// WithSender returns a context that carries the envelope sender of the
// message being delivered (the SMTP MAIL FROM address). Deliver writes it
// on the message's From_ line; other backends ignore it.
func WithSender(ctx context.Context, sender string) context.Context {
	return context.WithValue(ctx, senderKey{}, sender)
}

// senderFrom returns the envelope sender carried by ctx, fit for a From_
// line: without angle brackets, and DefaultSender when there is none or it
// is empty, too long, or has a space or a control character (which would
// break the From_ line).
func senderFrom(ctx context.Context) string {
	s, _ := ctx.Value(senderKey{}).(string)
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
