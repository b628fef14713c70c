// Elsewhere a message is moved by link and unlink (see moveNoReplace).

//go:build !linux

package maildir

// renameNoReplace is not available here.
func renameNoReplace(*dir, string, *dir, string) error {
	return errNoRenameNoReplace
}
