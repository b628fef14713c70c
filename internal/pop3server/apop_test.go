package pop3server

import "testing"

func TestAPOPTimestampsUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		s := apopTimestamp("h")
		if seen[s] {
			t.Fatalf("timestamp %s made twice", s)
		}
		seen[s] = true
	}
}
