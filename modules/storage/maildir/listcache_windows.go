// Windows gives the listing cache nothing it can trust, so every login lists cur/ and new/.

package maildir

import "errors"

// errNoStamp says that this system cannot stamp a directory.
var errNoStamp = errors.New("maildir: directory stamps are not available on Windows")

// stampDir always fails: Windows has no change time (ctime) that every
// change of a directory's entries is sure to move, so the listing cache
// stays empty and scan lists the directories each time.
func stampDir(string) (dirStamp, error) {
	return dirStamp{}, errNoStamp
}

// stampFile always fails, as stampDir does.
func stampFile(string) (dirStamp, error) {
	return dirStamp{}, errNoStamp
}
