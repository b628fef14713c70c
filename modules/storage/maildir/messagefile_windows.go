// Windows gives message reads os.File, which takes care of handles and the poller itself.

package maildir

import "os"

// openMessage opens path for reading. The caller closes it.
func openMessage(path string) (*os.File, error) {
	return os.Open(path)
}
