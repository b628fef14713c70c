// Unix gives maildir names the standard ':' before the info part.

//go:build unix

package maildir

// infoSep starts the info part of a maildir file name ("<base>,W=5:2,S").
const infoSep = ':'
