// Windows gives maildir a LockFileEx owner lock but no listing cache, ';' names and no directory sync: warned once.

package maildir

import (
	"sync"

	"go.uber.org/zap"
)

// platformWarned makes warnPlatform log once per process.
var platformWarned sync.Once

// warnPlatform logs, once, what Windows cannot give the maildir backend.
func warnPlatform(logger *zap.Logger) {
	platformWarned.Do(func() {
		logger.Warn("maildir on Windows: names use ';' before the info part (\":2,\" is \";2,\"), " +
			"so a maildir written by a Unix program cannot be served as it is; every login lists cur/ and new/ " +
			"(no listing cache); directory entries are not synced after a delivery (NTFS journals them)")
	})
}
