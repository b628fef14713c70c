package pop3server

// Sizes and reply texts of the engine that its users (and their tests)
// rely on.
const (
	// ReadBufferSize is the per-session input buffer: lines up to this
	// size are parsed in place, longer ones are assembled.
	ReadBufferSize = readBufferSize
	// ReadChunkSize is how much of a message is read from storage at a
	// time by RETR and TOP.
	ReadChunkSize = readChunkSize
	// ReplyAuthFailed is the text of -ERR for every failed login (wrong
	// password, unknown user and lockout alike).
	ReplyAuthFailed = authFailedReply
	// ReplyPlaintextRefused is the text of -ERR for plaintext credentials
	// on a clear, non-loopback connection.
	ReplyPlaintextRefused = errPlaintextRefused
	// ReplyTooManyErrors ends the -ERR line of the bad command that ends
	// a session.
	ReplyTooManyErrors = tooManyErrors
)
