package lmtp

import (
	"context"
	"errors"
	"syscall"

	"github.com/emersion/go-smtp"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// Replies after DATA, one per recipient (RFC 2033 section 4.2). A reply
// with code 250 is carried as an *smtp.SMTPError too: go-smtp writes any
// SMTPError's code and text as they are.
var (
	replyDelivered = &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Delivered"}
	replyLocked    = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Mailbox is locked, try again later"}
	replyNoUser    = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	replyNoSpace   = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Mail system full, try again later"}
	replyStorage   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary storage failure, try again later"}
	replyTooLarge  = smtp.ErrDataTooLarge // 552 5.3.4
	replyShutdown  = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down, message not delivered, try again later"}
	replyAborted   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Message not received in full, nothing delivered"}
	replyLineLong  = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message has a line longer than the server accepts"}
	replySpool     = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Cannot spool the message, try again later"}
)

// deliveryReply is the reply for one recipient after Deliver returned err.
// Only a nil error is a 250: the backend has stored the message durably.
func deliveryReply(err error) *smtp.SMTPError {
	switch {
	case err == nil:
		return replyDelivered
	case errors.Is(err, storage.ErrLockTimeout):
		return replyLocked
	case errors.Is(err, storage.ErrInvalidUser):
		return replyNoUser
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return replyNoSpace
	case errors.Is(err, context.Canceled):
		return replyShutdown
	default:
		return replyStorage
	}
}

// receiveReply is the reply for every recipient when the message could
// not be received in full (err from reading DATA or BDAT).
func receiveReply(err error, draining bool) *smtp.SMTPError {
	switch {
	case errors.Is(err, smtp.ErrDataTooLarge):
		return replyTooLarge
	case errors.Is(err, smtp.ErrTooLongLine):
		return replyLineLong
	case draining:
		return replyShutdown
	default:
		return replyAborted
	}
}

// resultLabel is the metric label of a reply: delivered, temp_fail or
// perm_fail.
func resultLabel(r *smtp.SMTPError) string {
	switch r.Code / 100 {
	case 2:
		return resultDelivered
	case 4:
		return resultTempFail
	default:
		return resultPermFail
	}
}
