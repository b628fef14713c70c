//go:build unix

package pop3cmd

import (
	"context"
	"fmt"

	"github.com/caddy-pop3/caddy-pop3/modules/storage/maildir"
	"github.com/caddy-pop3/caddy-pop3/modules/storage/mbox"
)

// openSource opens the maildir or mbox spool at path read-only.
func openSource(ctx context.Context, kind, path, format string) (source, error) {
	switch kind {
	case "maildir":
		return maildir.OpenSourceFormat(ctx, path, format)
	case "mbox":
		return mbox.OpenSourceFormat(ctx, path, format)
	}
	return nil, fmt.Errorf("unknown source kind %q", kind)
}
