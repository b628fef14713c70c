//go:build !unix

package pop3cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/caddy-pop3/caddy-pop3/modules/storage/maildir"
)

// openSource opens the maildir at path read-only; mbox spools are not
// supported on this platform (see the mbox backend).
func openSource(ctx context.Context, kind, path, format string) (source, error) {
	switch kind {
	case "maildir":
		return maildir.OpenSourceFormat(ctx, path, format)
	case "mbox":
		return nil, errors.New("mbox sources are not supported on this platform")
	}
	return nil, fmt.Errorf("unknown source kind %q", kind)
}
