package pop3server

import "context"

// memAuth accepts users whose password matches the map.
type memAuth map[string]string

func (a memAuth) Authenticate(_ context.Context, user, password string) (bool, error) {
	pw, ok := a[user]
	return ok && pw == password, nil
}
