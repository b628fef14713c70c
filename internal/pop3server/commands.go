package pop3server

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"go.uber.org/zap"

	"github.com/caddy-pop3/caddy-pop3/modules/storage"
)

// commandFunc runs one command. Returning errCloseSession (or any error)
// ends the session after the response is flushed.
type commandFunc func(s *Session, ctx context.Context, cmd command) error

// commandSpec says in which states a command is valid and how many
// arguments it takes.
type commandSpec struct {
	states  state
	minArgs int
	maxArgs int
	run     commandFunc
}

// unlimitedArgs is the maxArgs of commands that take the rest of the line
// as one argument that may contain spaces.
const unlimitedArgs = 1 << 30

// commands is the POP3 command table (RFC 1939, RFC 2449, RFC 2595 STLS,
// RFC 5034 AUTH). It is filled by init, because its functions refer back
// to it (through dispatch).
var commands map[string]commandSpec

func init() {
	commands = map[string]commandSpec{
		"CAPA": {stateAuthorization | stateTransaction, 0, 0, (*Session).cmdCAPA},
		"QUIT": {stateAuthorization | stateTransaction, 0, 0, (*Session).cmdQUIT},
		"USER": {stateAuthorization, 1, 1, (*Session).cmdUSER},
		"PASS": {stateAuthorization, 1, unlimitedArgs, (*Session).cmdPASS},
		"APOP": {stateAuthorization, 2, 2, (*Session).cmdAPOP},
		"AUTH": {stateAuthorization, 0, 2, (*Session).cmdAUTH},
		"STLS": {stateAuthorization, 0, 0, (*Session).cmdSTLS},
		"STAT": {stateTransaction, 0, 0, (*Session).cmdSTAT},
		"LIST": {stateTransaction, 0, 1, (*Session).cmdLIST},
		"UIDL": {stateTransaction, 0, 1, (*Session).cmdUIDL},
		"RETR": {stateTransaction, 1, 1, (*Session).cmdRETR},
		"TOP":  {stateTransaction, 2, 2, (*Session).cmdTOP},
		"DELE": {stateTransaction, 1, 1, (*Session).cmdDELE},
		"NOOP": {stateTransaction, 0, 0, (*Session).cmdNOOP},
		"RSET": {stateTransaction, 0, 0, (*Session).cmdRSET},
	}
	// The parser interns the keywords of the table (parse.go); filled
	// here, so no init order between files matters.
	for name := range commands {
		knownKeywords[name] = name
	}
}

// CommandNames returns the keywords of the command table (for metrics
// that want a series per command).
func CommandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// dispatch parses and runs one command line.
func (s *Session) dispatch(ctx context.Context, line []byte) error {
	cmd, err := parseCommand(line)
	if err != nil {
		return s.reject(err.Error())
	}
	spec, ok := commands[cmd.name]
	if !ok {
		return s.reject("Unknown command")
	}
	s.stats.command = cmd.name
	if spec.states&s.state == 0 {
		return s.reject(cmd.name + " is not valid in this state")
	}
	if len(cmd.args()) < spec.minArgs {
		return s.reject(cmd.name + ": missing argument")
	}
	if len(cmd.args()) > spec.maxArgs {
		return s.reject(cmd.name + ": too many arguments")
	}
	if s.log.Core().Enabled(zap.DebugLevel) && cmd.name != "PASS" {
		s.log.Debug("command", commandLogFields(cmd)...)
	}
	return spec.run(s, ctx, cmd)
}

// reject answers a bad command with -ERR and counts it; after too many the
// session ends.
func (s *Session) reject(reason string) error {
	if s.countError() {
		s.err(reason + tooManyErrors)
		return errCloseSession
	}
	s.err(reason)
	return nil
}

func (s *Session) cmdQUIT(ctx context.Context, _ command) error {
	if s.state != stateTransaction {
		s.ok("Logging out")
		return errCloseSession
	}
	// UPDATE state (RFC 1939 section 6).
	deleted := make([]int, 0, s.nDeleted)
	for i, d := range s.deleted {
		if d {
			deleted = append(deleted, i)
		}
	}
	drop := s.drop
	s.drop = nil
	// A commit under way is not interrupted when the session is ended
	// from outside: the backend gets the session's values, not its end.
	if err := drop.Commit(context.WithoutCancel(ctx), deleted); errors.Is(err, storage.ErrLockLost) {
		s.log.Warn("QUIT after the maildrop lock was lost; nothing deleted", zap.String("user", s.user), zap.Int("deleted", len(deleted)), zap.Error(err))
		s.err(codeInUse + "Maildrop lock was lost to another session; no messages were deleted")
		return errCloseSession
	} else if err != nil {
		s.storageError("removing deleted messages", err, zap.String("user", s.user), zap.Int("deleted", len(deleted)))
		s.err(codeSysTemp + "Some deleted messages could not be removed")
		return errCloseSession
	}
	s.countDeleted(len(deleted))
	s.log.Debug("session updated", zap.String("user", s.user), zap.Int("deleted", len(deleted)))
	b := append(s.w.scratch(maxReplyLine), "+OK Logging out, "...)
	b = strconv.AppendInt(b, int64(len(s.msgs)-len(deleted)), 10)
	s.okLine(append(b, " messages left\r\n"...))
	return errCloseSession
}

func (s *Session) cmdSTAT(_ context.Context, _ command) error {
	n, size := s.live()
	b := append(s.w.scratch(maxReplyLine), "+OK "...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, size, 10)
	s.okLine(append(b, "\r\n"...))
	return nil
}

// okLine buffers a +OK line built in the reply buffer's scratch space
// (replyWriter.scratch), "+OK " and CRLF included.
func (s *Session) okLine(b []byte) {
	s.noteReply('+')
	s.w.write(b)
}

func (s *Session) cmdNOOP(_ context.Context, _ command) error {
	s.ok("")
	return nil
}

func (s *Session) cmdRSET(_ context.Context, _ command) error {
	clear(s.deleted)
	s.nDeleted, s.delSize = 0, 0
	n, size := s.live()
	s.ok("Maildrop has " + strconv.Itoa(n) + " messages (" + strconv.FormatInt(size, 10) + " octets)")
	return nil
}

// live returns the count and total size of the messages not marked deleted.
func (s *Session) live() (int, int64) {
	var total int64
	for _, m := range s.msgs {
		total += m.Size
	}
	return len(s.msgs) - s.nDeleted, total - s.delSize
}

// message resolves a message-number argument to an index of a message that
// is not deleted. On failure it has already answered -ERR.
func (s *Session) message(arg []byte) (int, bool) {
	n, ok := parseNumber(arg)
	if !ok {
		s.reject("Invalid message number")
		return 0, false
	}
	if n < 1 || n > len(s.msgs) {
		s.err("No such message")
		return 0, false
	}
	if s.deleted[n-1] {
		s.err("Message " + strconv.Itoa(n) + " is deleted")
		return 0, false
	}
	return n - 1, true
}

func (s *Session) cmdLIST(_ context.Context, cmd command) error {
	return s.listing(cmd, false)
}

func (s *Session) cmdUIDL(_ context.Context, cmd command) error {
	return s.listing(cmd, true)
}

// listing answers LIST and UIDL: one message with an argument, every
// message not deleted without. Each line is built in place in the reply
// buffer: a listing of thousands of messages allocates nothing.
func (s *Session) listing(cmd command, uidl bool) error {
	if len(cmd.args()) == 1 {
		if i, ok := s.message(cmd.args()[0]); ok {
			b := append(s.w.scratch(maxReplyLine), "+OK "...)
			s.okLine(append(s.appendListing(b, i, uidl), "\r\n"...))
		}
		return nil
	}
	if uidl {
		s.ok("")
	} else {
		n, size := s.live()
		b := append(s.w.scratch(maxReplyLine), "+OK "...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, " messages ("...)
		b = strconv.AppendInt(b, size, 10)
		s.okLine(append(b, " octets)\r\n"...))
	}
	for i := range s.msgs {
		if !s.deleted[i] {
			b := s.appendListing(s.w.scratch(maxReplyLine), i, uidl)
			s.w.write(append(b, "\r\n"...))
		}
	}
	s.end()
	return nil
}

// appendListing appends the LIST or UIDL line of message index i, without
// its CRLF: the message number and its size or UID. Neither can begin
// with '.'.
func (s *Session) appendListing(b []byte, i int, uidl bool) []byte {
	b = strconv.AppendInt(b, int64(i+1), 10)
	b = append(b, ' ')
	if uidl {
		return append(b, s.msgs[i].UID...)
	}
	return strconv.AppendInt(b, s.msgs[i].Size, 10)
}

func (s *Session) cmdDELE(_ context.Context, cmd command) error {
	i, ok := s.message(cmd.args()[0])
	if !ok {
		return nil
	}
	s.deleted[i] = true
	s.nDeleted++
	s.delSize += s.msgs[i].Size
	s.ok("Message " + strconv.Itoa(i+1) + " deleted")
	return nil
}

func (s *Session) cmdRETR(ctx context.Context, cmd command) error {
	i, ok := s.message(cmd.args()[0])
	if !ok {
		return nil
	}
	// The status line is built on the stack: sendMessage hands it to
	// writeMessage, which copies it in front of the message.
	var head [64]byte
	h := append(head[:0], "+OK "...)
	h = strconv.AppendInt(h, s.msgs[i].Size, 10)
	return s.sendMessage(ctx, i, allLines, append(h, " octets\r\n"...))
}

func (s *Session) cmdTOP(ctx context.Context, cmd command) error {
	i, ok := s.message(cmd.args()[0])
	if !ok {
		return nil
	}
	lines, ok := parseNumber(cmd.args()[1])
	if !ok {
		return s.reject("Invalid number of lines")
	}
	return s.sendMessage(ctx, i, lines, topHead)
}

// topHead is TOP's status line.
var topHead = []byte("+OK Top of message follows\r\n")

// sendMessage answers RETR and TOP, with head, their status line (CRLF
// included). A storage failure before the first byte
// is an -ERR; one in the middle of the message cannot be reported in the
// protocol, so it ends the session (deleting nothing).
func (s *Session) sendMessage(ctx context.Context, i, bodyLines int, head []byte) error {
	rc, err := s.drop.Open(ctx, i)
	if err != nil {
		if errors.Is(err, storage.ErrGone) || errors.Is(err, storage.ErrNoSuchMessage) {
			// Removed by another program: asking again will not help.
			s.log.Warn("message removed during the session", zap.String("user", s.user), zap.Int("message", i+1), zap.Error(err))
			s.err(codeSysPerm + "Message is no longer available: it was removed from the maildrop")
		} else {
			s.storageError("opening message", err, zap.String("user", s.user), zap.Int("message", i+1))
			s.err(codeSysTemp + "Cannot read message")
		}
		return nil
	}
	defer rc.Close()
	// The status line goes out with the message, in one write.
	src := s.stats.recordReadErrors(rc)
	if s.commandBuffered() {
		// More commands are waiting: this reply and theirs leave
		// together, in writes of up to pipelineBufferSize.
		s.w.grow()
	}
	sent, err := writeMessage(s.w, src, bodyLines, head)
	if sent {
		s.noteReply('+')
	}
	if err != nil {
		if src.err != nil {
			s.storageError("reading message", err, zap.String("user", s.user), zap.Int("message", i+1))
			if !sent {
				s.err(codeSysTemp + "Cannot read message")
				return nil
			}
			s.endAs(EndError)
		} else {
			s.log.Debug("client went away during a message", zap.String("user", s.user), zap.Int("message", i+1), zap.Error(err))
			s.endAs(EndClientDrop)
		}
		return errCloseSession
	}
	if bodyLines == allLines {
		s.countRetrieved(s.msgs[i].Size)
	}
	return nil
}
