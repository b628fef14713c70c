//go:build unix && !linux

package maildir

// openBeneath returns errNoOpenat2: only Linux has openat2(2), and
// openTree walks the path one component at a time instead.
func openBeneath(string, string) (int, error) { return -1, errNoOpenat2 }
