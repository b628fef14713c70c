package pop3server

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// maxSASLRounds bounds the challenge-response exchange of one AUTH command;
// PLAIN and LOGIN need at most three client responses.
const maxSASLRounds = 4

// saslMechanisms lists the SASL mechanisms offered on this connection now:
// those the authenticator backs (auth.Mechanism), without the ones that carry a
// password in the clear where plaintext credentials are not allowed, or
// that need TLS on a clear connection.
func (s *Session) saslMechanisms() []string {
	if s.state != stateAuthorization {
		return nil
	}
	var names []string
	for _, m := range s.srv.mechs {
		if s.mechanismAllowed(m) {
			names = append(names, m.Name)
		}
	}
	return names
}

// mechanismAllowed reports whether m may be used on this connection.
func (s *Session) mechanismAllowed(m auth.Mechanism) bool {
	return (!m.Plaintext || s.plaintextAllowed()) && (!m.NeedsTLS || s.secure)
}

// saslMechanism returns the SASL mechanism called name among those the
// authenticator backs.
func (s *Session) saslMechanism(name string) (auth.Mechanism, bool) {
	for _, m := range s.srv.mechs {
		if strings.EqualFold(m.Name, name) {
			return m, true
		}
	}
	return auth.Mechanism{}, false
}

// authCapabilities returns the CAPA lines for logging in that this session
// offers now: SASL with its mechanisms, and STLS.
func (s *Session) authCapabilities() []string {
	var caps []string
	if m := s.saslMechanisms(); len(m) > 0 {
		caps = append(caps, "SASL "+strings.Join(m, " "))
	}
	if s.canStartTLS() {
		caps = append(caps, "STLS")
	}
	return caps
}

// cmdAUTH runs a SASL exchange (RFC 5034). With no argument it lists the
// mechanisms offered on this connection as a multi-line response, as
// Dovecot and the draft RFC 5034 replaced do, for clients that probe that
// way. Every response line goes through the session's bounded line reader;
// "*" cancels. A successful exchange logs in through login like USER/PASS.
func (s *Session) cmdAUTH(ctx context.Context, cmd command) error {
	if len(cmd.args()) == 0 {
		s.ok("Supported SASL mechanisms follow")
		for _, m := range s.saslMechanisms() {
			s.line(m)
		}
		s.end()
		return nil
	}

	m, ok := s.saslMechanism(string(cmd.args()[0]))
	if !ok {
		return s.reject("Unsupported SASL mechanism")
	}
	if !s.mechanismAllowed(m) {
		if m.NeedsTLS {
			return s.reject(codeAuth + m.Name + " needs TLS")
		}
		return s.reject(errPlaintextRefused)
	}
	mechanism := m.Name
	var login auth.Login
	server := m.NewServer(s.srv.cfg.Auth, func(l auth.Login) error {
		login = l
		return nil
	})
	s.userArg = ""

	// nil: no initial response; RFC 5034 writes an empty one as "=".
	var response []byte
	if len(cmd.args()) == 2 {
		ir, ok := decodeSASL(cmd.args()[1], true)
		if !ok {
			return s.reject("Invalid base64 in the initial response")
		}
		response = ir
	}
	for round := 0; ; round++ {
		challenge, done, err := server.Next(response)
		switch {
		case errors.Is(err, auth.ErrAuthzid):
			return s.reject(codeAuth + "The authorization identity must be empty or the user name")
		case err != nil:
			return s.reject("Malformed " + mechanism + " response")
		case done:
			return s.login(ctx, login, mechanism)
		case round == maxSASLRounds:
			return s.reject("Too many SASL rounds")
		}

		s.w.WriteString("+ ")
		s.w.WriteString(base64.StdEncoding.EncodeToString(challenge))
		s.w.WriteString("\r\n")
		if err := s.w.Flush(); err != nil {
			return err
		}
		line, err := s.readRawLine()
		if errors.Is(err, errLineTooLong) {
			return s.reject("line too long")
		}
		if err != nil {
			s.endOnReadError(err)
			return errCloseSession
		}
		if string(line) == "*" {
			return s.reject("Authentication cancelled")
		}
		decoded, ok := decodeSASL(line, false)
		if !ok {
			return s.reject("Invalid base64 in the response")
		}
		response = decoded
	}
}

// decodeSASL decodes a base64 client response. In an initial response "="
// stands for an empty one (RFC 5034 section 4). The result is never nil,
// since go-sasl reads nil as "no response".
func decodeSASL(b []byte, initial bool) ([]byte, bool) {
	if initial && string(b) == "=" {
		return []byte{}, true
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}
