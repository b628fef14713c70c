// Package hostname gives the server name a mail handler greets with when
// its config names none.
package hostname

import "os"

// Default returns the machine's host name, or "localhost" when it has
// none.
func Default() string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		return "localhost"
	}
	return name
}
