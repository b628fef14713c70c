package pop3server

// Extended response codes (RFC 2449 section 8, RFC 3206).
const (
	codeInUse      = "[IN-USE] "
	codeAuth       = "[AUTH] "
	codeSysTemp    = "[SYS/TEMP] "
	codeSysPerm    = "[SYS/PERM] "
	codeLoginDelay = "[LOGIN-DELAY] "
)
