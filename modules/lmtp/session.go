package lmtp

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// recipient is one accepted RCPT TO: the address as the client gave it
// and the user it is delivered to.
type recipient struct {
	address string
	user    string
}

// session is go-smtp's backend for one LMTP connection: it collects the
// envelope of each transaction and delivers the message after DATA (or
// the last BDAT), one status per recipient.
type session struct {
	h    *Handler
	conn *conn // the connection's state, shared with the server loop
	srv  *smtp.Server
	log  *zap.Logger

	from  string
	rcpts []recipient
	auth  clientAuth // client_auth (clientauth.go)
}

// Reset forgets the current transaction.
func (s *session) Reset() {
	s.from = ""
	s.rcpts = s.rcpts[:0]
	s.srv.MaxMessageBytes = s.h.MaxMessageSize
}

// Logout ends the session; the connection is closed by the server loop.
func (s *session) Logout() error { return nil }

// Mail starts a transaction.
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := s.mailAllowed(); err != nil {
		return err
	}
	s.Reset()
	s.from = from
	return nil
}

// Rcpt accepts a recipient whose address maps to a user (and, with an
// authenticator, whose user exists), or refuses it with 550.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	user, err := s.h.Recipients.user(to)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
		err = checkUser(ctx, s.h.lookup, user)
		cancel()
	}
	if err != nil {
		observeRecipient(resultRejected)
		s.log.Debug("recipient refused", zap.String("recipient", to), zap.Error(err))
		return err
	}
	s.rcpts = append(s.rcpts, recipient{address: to, user: user})
	// The message size is enforced by the spool, which reads an
	// oversized message to its end before answering 552 for each
	// recipient. go-smtp's own limit (which still advertises SIZE and
	// checks MAIL FROM's SIZE=) is lifted for the message text:
	// v0.21.3 leaves the rest of an oversized message unread, to be
	// taken for commands. The server is this connection's own, and
	// go-smtp reads the field in this goroutine; Reset restores it.
	s.srv.MaxMessageBytes = 0
	return nil
}

// lookupTimeout bounds an authenticator's answer to whether a user exists.
const lookupTimeout = 30 * time.Second

// deliveryTimeout bounds one recipient's delivery by the backend (a
// database that does not answer): then 451 4.3.0, and the MTA retries.
// It is not tied to the config's lifetime: a delivery that has begun is
// finished across a reload.
const deliveryTimeout = 5 * time.Minute

// Data is used by go-smtp outside LMTP mode only, and the handler always
// runs in LMTP mode (LMTPData): it refuses, so no single status could ever
// stand for several recipients.
func (s *session) Data(io.Reader) error {
	return errNotLMTP
}

// errNotLMTP answers DATA outside LMTP mode.
var errNotLMTP = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "This server speaks LMTP only"}

// LMTPData receives the message in full, then delivers it to each
// recipient in turn and sets that recipient's status. A recipient gets 250
// only once the backend's Deliver returned without an error, that is once
// the message is durably stored; one recipient's failure never changes
// another's reply, so the MTA retries only the ones that failed.
func (s *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	started := time.Now()
	s.conn.setPhase(phaseReceiving)
	defer s.conn.setPhase(phaseIdle)

	var sp spool
	defer sp.Close()
	if err := sp.fill(r, s.h.MaxMessageSize); err != nil {
		reply := receiveReply(err, s.conn.draining.Load())
		if reply == replyTooLarge {
			observeRejectedMessage(reasonTooLarge)
		} else {
			observeRejectedMessage(reasonAborted)
		}
		s.log.Info("message not received", zap.String("from", s.from), zap.Int("recipients", len(s.rcpts)),
			zap.Int64("bytes", sp.size), zap.Error(err))
		return reply
	}
	// From here on the message is delivered and answered even if the
	// config's grace period ends: a 250 the MTA never reads would make
	// it deliver the message again.
	s.conn.setPhase(phaseDelivering)

	received := time.Now()
	done := map[string]*smtp.SMTPError{} // by address, for RCPT repeated
	for _, rc := range s.rcpts {
		if reply, ok := done[rc.address]; ok {
			status.SetStatus(rc.address, reply)
			continue
		}
		reply := s.deliver(rc, &sp, received)
		done[rc.address] = reply
		status.SetStatus(rc.address, reply)
	}
	observeMessage(sp.size, time.Since(started))
	s.conn.messages.Add(1)
	return nil
}

// deliver stores the spooled message for one recipient and returns its
// reply.
func (s *session) deliver(rc recipient, sp *spool, received time.Time) *smtp.SMTPError {
	body, err := sp.reader()
	if err != nil {
		s.log.Error("reading the spooled message", zap.Error(err))
		return replySpool
	}
	msg := body
	if s.h.traceHeaders() {
		msg = io.MultiReader(strings.NewReader(traceHeaders(s.from, rc.address)), body)
	}
	env := storage.Envelope{Sender: s.from, Recipient: rc.address, Received: received}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	err = s.h.deliverer.Deliver(ctx, rc.user, env, msg)
	cancel()
	reply := deliveryReply(err)
	observeDelivery(resultLabel(reply), time.Since(start))
	fields := []zap.Field{zap.String("from", s.from), zap.String("recipient", rc.address),
		zap.String("user", rc.user), zap.Int64("bytes", sp.size), zap.Int("code", reply.Code)}
	if err != nil {
		s.conn.failed.Add(1)
		s.log.Warn("delivery failed", append(fields, zap.String("backend", s.h.backend), zap.Error(err))...)
		return reply
	}
	s.conn.delivered.Add(1)
	observeDeliveredBytes(sp.size)
	s.log.Debug("delivered", fields...)
	return reply
}

// Interface guards
var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.LMTPSession = (*session)(nil)
)
