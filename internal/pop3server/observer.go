package pop3server

import "time"

// Observer receives the events of a Server's sessions, from the
// sessions' goroutines: the adapter turns them into metrics. Methods must
// be cheap and safe for concurrent use.
type Observer interface {
	// SessionStarted is called when a session is greeted.
	SessionStarted()
	// SessionEnded is called once per started session with how it ended
	// (one of EndReasons).
	SessionEnded(reason string)
	// BytesIn and BytesOut count octets on the connections, TLS records
	// included.
	BytesIn(n int)
	BytesOut(n int)
	// Command is called after each command line: its keyword (or
	// UnknownCommand) and whether its first reply was +OK.
	Command(name string, ok bool)
	// Duration is called after the operations that touch storage:
	// OpLogin (opening the maildrop), RETR, TOP, and QUIT in the
	// TRANSACTION state (applying deletions).
	Duration(op string, d time.Duration)
	// Auth is called after credentials were checked: the mechanism
	// (auth mechanism names: USER, APOP, PLAIN, LOGIN...) and AuthSuccess,
	// AuthFailure or AuthError.
	Auth(mechanism, result string)
	// Lockout is called when a failure locks an address or a user name
	// out.
	Lockout()
	// Retrieved is called when RETR sent a whole message of size octets
	// (as LIST reports it).
	Retrieved(size int64)
	// Deleted is called when QUIT removed n messages.
	Deleted(n int)
	// StorageError is called on a storage failure, with Config.StoreName.
	StorageError(backend string)
}

// NopObserver observes nothing.
type NopObserver struct{}

// SessionStarted does nothing.
func (NopObserver) SessionStarted() {}

// SessionEnded does nothing.
func (NopObserver) SessionEnded(string) {}

// BytesIn does nothing.
func (NopObserver) BytesIn(int) {}

// BytesOut does nothing.
func (NopObserver) BytesOut(int) {}

// Command does nothing.
func (NopObserver) Command(string, bool) {}

// Duration does nothing.
func (NopObserver) Duration(string, time.Duration) {}

// Auth does nothing.
func (NopObserver) Auth(string, string) {}

// Lockout does nothing.
func (NopObserver) Lockout() {}

// Retrieved does nothing.
func (NopObserver) Retrieved(int64) {}

// Deleted does nothing.
func (NopObserver) Deleted(int) {}

// StorageError does nothing.
func (NopObserver) StorageError(string) {}

// How a session ended, as Observer.SessionEnded reports it.
const (
	EndQuit          = "quit"            // QUIT, and the UPDATE state succeeded
	EndTimeout       = "timeout"         // idle_timeout passed
	EndClientDrop    = "client_drop"     // the client went away
	EndReload        = "reload"          // the grace period after a reload passed
	EndShutdown      = "shutdown"        // the process is stopping
	EndAdmin         = "admin"           // ended through the admin API
	EndError         = "error"           // a storage or server error
	EndTooManyErrors = "too_many_errors" // too many bad commands
)

// EndReasons lists every end reason.
var EndReasons = []string{EndQuit, EndTimeout, EndClientDrop, EndReload, EndShutdown, EndAdmin, EndError, EndTooManyErrors}

// Results of a credential check, as Observer.Auth reports them.
const (
	AuthSuccess = "success" // right credentials
	AuthFailure = "failure" // wrong credentials or unknown user
	AuthError   = "error"   // the authenticator failed
)

// UnknownCommand is the command name Observer.Command reports for a line
// that is not a command.
const UnknownCommand = "unknown"

// OpLogin is the Observer.Duration operation of opening a maildrop at
// login.
const OpLogin = "login"

// TimedCommands are the commands Observer.Duration reports.
var TimedCommands = []string{"RETR", "TOP", "QUIT"}

// Reasons a session is ended from outside (Session.Shutdown), told to the
// client after -ERR [SYS/TEMP].
const (
	ReasonReload   = "Server configuration changed, please reconnect"
	ReasonShutdown = "Server is shutting down, please reconnect"
	ReasonAdmin    = "Session ended by the administrator"
)

// CodeSysTemp is the response code of a temporary failure, with its
// trailing space (RFC 3206).
const CodeSysTemp = codeSysTemp
