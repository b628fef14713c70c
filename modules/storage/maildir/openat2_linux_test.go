package maildir

import "testing"

// TestWithoutOpenat2 runs the symbolic link tests again as on a kernel
// without openat2(2) (before 5.6, or behind a seccomp filter that forbids
// it): the component-by-component walk must refuse the same links.
func TestWithoutOpenat2(t *testing.T) {
	was := noOpenat2.Load()
	noOpenat2.Store(true)
	t.Cleanup(func() { noOpenat2.Store(was) })
	t.Run("SymlinkedDirectoriesRefused", TestSymlinkedDirectoriesRefused)
	t.Run("DirectorySwappedAfterLogin", TestDirectorySwappedAfterLogin)
	t.Run("Suite", TestSuite)
}
