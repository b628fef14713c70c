// Package caddypop3 registers every caddy-pop3 module with Caddy. Build it
// into Caddy with
//
//	xcaddy build --with github.com/mholt/caddy-l4 --with github.com/caddy-pop3/caddy-pop3
package caddypop3

import (
	// The POP3 connection handler (layer4.handlers.pop3).
	_ "github.com/caddy-pop3/caddy-pop3/modules/pop3"
	// The LMTP delivery handler (layer4.handlers.lmtp).
	_ "github.com/caddy-pop3/caddy-pop3/modules/lmtp"
	// Storage backends (pop3.storage.*).
	_ "github.com/caddy-pop3/caddy-pop3/modules/storage/maildir"
	_ "github.com/caddy-pop3/caddy-pop3/modules/storage/mbox"
	_ "github.com/caddy-pop3/caddy-pop3/modules/storage/postgres"
	// Authenticators (pop3.auth.*).
	_ "github.com/caddy-pop3/caddy-pop3/modules/auth/accounts"
	_ "github.com/caddy-pop3/caddy-pop3/modules/auth/passwdfile"
	_ "github.com/caddy-pop3/caddy-pop3/modules/auth/sql"
	// The `caddy pop3 deliver` command.
	_ "github.com/caddy-pop3/caddy-pop3/modules/pop3cmd"
)
