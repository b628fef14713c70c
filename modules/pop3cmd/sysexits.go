package pop3cmd

// Exit codes of `caddy pop3 deliver` and `caddy pop3 migrate`, from sysexits(3), which MTAs
// (Postfix's mailbox_command, fetchmail's mda, procmail-style pipes)
// understand: 75 means "try again later", the other failures are
// permanent.
const (
	ExitOK          = 0  // delivered
	ExitUsage       = 64 // EX_USAGE: bad command line
	ExitDataErr     = 65 // EX_DATAERR: the message is empty; migrate: messages not copied (UIDL conflict)
	ExitNoInput     = 66 // EX_NOINPUT: the migration source or --users-from cannot be read
	ExitNoUser      = 67 // EX_NOUSER: the user name cannot name a maildrop
	ExitCantCreat   = 73 // EX_CANTCREAT: the maildrop cannot be written (permissions)
	ExitIOErr       = 74 // EX_IOERR: the message could not be read from stdin; migrate: the source could not be read
	ExitTempFail    = 75 // EX_TEMPFAIL: temporary failure (mailbox locked or in use, I/O error)
	ExitConfigError = 78 // EX_CONFIG: the config cannot be loaded or has no usable pop3 handler
)
