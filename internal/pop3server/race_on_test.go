//go:build race

package pop3server

// raceEnabled: the race detector is on. sync.Pool drops items at random
// under it, so what takes a pooled buffer may allocate it again.
const raceEnabled = true
