//go:build !unix

package maildir

import (
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage/storagetest"
)

// replaceHook is nil where the tests cannot make FIFOs and symbolic links
// reliably: the suite skips its NonRegular case.
func replaceHook(func(string) string) func(*testing.T, string, string, storagetest.NonMessage, string) {
	return nil
}
