package pop3

import (
	"bytes"
	"context"
)

// crlfSize is the size of b with every line ending as CRLF and a final line
// ending added, computed independently of writeMessage.
func crlfSize(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	n := int64(len(b))
	n += int64(bytes.Count(b, []byte{'\n'}) - bytes.Count(b, []byte("\r\n")))
	if b[len(b)-1] != '\n' {
		n += 2
	}
	return n
}

// memAuth accepts users whose password matches the map.
type memAuth map[string]string

func (a memAuth) Authenticate(_ context.Context, user, password string) (bool, error) {
	pw, ok := a[user]
	return ok && pw == password, nil
}
