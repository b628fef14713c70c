//go:build !race

package pop3server

// raceEnabled: the race detector is off (see race_on_test.go).
const raceEnabled = false
