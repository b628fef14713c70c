// Command caddy is a Caddy binary with caddy-l4 and caddy-pop3 built in,
// for `go run ./cmd/caddy` and for the end-to-end tests.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// The standard Caddy modules (TLS, PKI, the password hashes, ...).
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	// caddy-l4: the layer4 app and its handlers.
	_ "github.com/mholt/caddy-l4"

	// Every caddy-pop3 module.
	_ "github.com/caddy-pop3/caddy-pop3"
)

func main() {
	caddycmd.Main()
}
