// Elsewhere a directory's names for a digest are those dir.names returns.

//go:build !linux

package maildir

// eachName calls f with the name of each message file of d, as names
// lists them.
func (d *dir) eachName(f func(string)) error {
	names, err := d.names()
	if err != nil {
		return err
	}
	for _, name := range names {
		f(name)
	}
	return nil
}
