//go:build unix && !netbsd

package maildir

// isEFTYPE reports false: only NetBSD answers EFTYPE.
func isEFTYPE(error) bool { return false }
