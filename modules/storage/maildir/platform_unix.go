// Unix gives maildir everything it uses: nothing to warn about at startup.

//go:build unix

package maildir

import "go.uber.org/zap"

// warnPlatform logs what this system cannot give the maildir backend:
// nothing on Unix.
func warnPlatform(*zap.Logger) {}
