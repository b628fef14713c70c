// Windows gives the benchmark no open-file limit on sockets: nothing to raise.

package main

// raiseNoFile has nothing to raise: Windows limits sockets by memory, not
// by a descriptor limit. It returns want.
func raiseNoFile(want uint64) (uint64, error) {
	return want, nil
}
