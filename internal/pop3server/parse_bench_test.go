package pop3server

import "testing"

// BenchmarkParseCommand measures parsing one command line, as the session
// loop does for every command.
func BenchmarkParseCommand(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"STAT", "STAT"},
		{"RETR", "RETR 17"},
		{"TOP", "TOP 17 10"},
		{"USER", "USER alice@example.com"},
		{"PASS", "PASS correct horse battery staple"},
		{"lower-case", "uidl 3"},
		{"unknown", "XTND XMIT"},
	} {
		line := []byte(bc.line)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseCommand(line); err != nil && bc.name != "unknown" {
					b.Fatal(err)
				}
			}
		})
	}
}
