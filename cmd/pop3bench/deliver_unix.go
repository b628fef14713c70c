// Unix gives a delivered message the owner of the maildir's new/.

//go:build unix

package main

import (
	"os"
	"syscall"
)

// chownLike gives the file at path the owner and group of dir, when this
// process may and they differ.
func chownLike(path string, dir os.FileInfo) error {
	st, ok := dir.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == os.Geteuid() {
		return nil
	}
	return os.Lchown(path, int(st.Uid), int(st.Gid))
}
