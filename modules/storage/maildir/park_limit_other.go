//go:build !unix

package maildir

// openFileLimit reports that there is no open-file limit to read here
// (directories hold no descriptor here either; see dirsHoldDescriptors).
func openFileLimit() (uint64, bool) { return 0, false }
