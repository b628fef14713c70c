// Windows gives maildir names ';' before the info part, since ':' would name an NTFS stream.

package maildir

// infoSep starts the info part of a maildir file name ("<base>,W=5;2,S"):
// ';', as mbsync uses on Windows. The base and fields, and so the UIDL and
// size a name gives, are the same as with ':' on Unix.
const infoSep = ';'
