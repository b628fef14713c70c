package lmtp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// codeString is "<code> <class>.<subject>.<detail>".
func codeString(e *smtp.SMTPError) string {
	return fmt.Sprintf("%d %d.%d.%d", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2])
}

func TestDeliveryReply(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "250 2.0.0"},
		{fmt.Errorf("mbox /x: %w", storage.ErrLockTimeout), "451 4.2.0"},
		{storage.ErrInvalidUser, "550 5.1.1"},
		{fmt.Errorf("write: %w", syscall.ENOSPC), "452 4.3.1"},
		{fmt.Errorf("write: %w", syscall.EDQUOT), "452 4.3.1"},
		{context.Canceled, "421 4.3.2"},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), "451 4.3.0"},
		{errors.New("disk on fire"), "451 4.3.0"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			if got := codeString(deliveryReply(tt.err)); got != tt.want {
				t.Errorf("reply = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestReceiveReply(t *testing.T) {
	tests := []struct {
		err      error
		draining bool
		want     string
	}{
		{smtp.ErrDataTooLarge, false, "552 5.3.4"},
		{smtp.ErrTooLongLine, false, "554 5.6.0"},
		{io.ErrUnexpectedEOF, false, "451 4.4.2"},
		{io.ErrUnexpectedEOF, true, "421 4.3.2"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err, tt.draining), func(t *testing.T) {
			if got := codeString(receiveReply(tt.err, tt.draining)); got != tt.want {
				t.Errorf("reply = %s, want %s", got, tt.want)
			}
		})
	}
}
