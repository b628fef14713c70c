package main

import "testing"

// TestRunPoll checks that poll mode polls the first user the given number
// of times, reports every phase, and notices a broken UIDL listing.
func TestRunPoll(t *testing.T) {
	for _, tc := range []struct {
		name      string
		flaw      flaw
		integrity bool
	}{
		{"good server", flawNone, false},
		{"duplicate UIDL", flawDuplicateUID, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boxes := sampleBoxes()
			s := startTestPOP3(t, boxes, tc.flaw)
			cfg := testConfig(s.addr())
			cfg.mode, cfg.polls = modePoll, 5
			res := runPoll(cfg)
			if tc.integrity {
				if res.IntegrityErrors != 5 || res.Sessions != 0 {
					t.Errorf("integrity errors %d, sessions %d, want 5 and 0", res.IntegrityErrors, res.Sessions)
				}
				return
			}
			if res.Errors+res.IntegrityErrors != 0 {
				t.Fatalf("errors %d, integrity %d: %v", res.Errors, res.IntegrityErrors, res.ErrorSamples)
			}
			p := res.Poll
			want := len(boxes[cfg.userName(cfg.firstUser)])
			if res.Sessions != 5 || p == nil || p.Messages != want {
				t.Fatalf("sessions %d, poll %+v, want 5 polls of %d messages", res.Sessions, p, want)
			}
			for name, l := range map[string]Percentiles{"login": p.Login, "uidl": p.UIDL, "quit": p.Quit, "total": p.Total} {
				if l.Count != 5 || l.P50 <= 0 || l.P90 < l.P50 {
					t.Errorf("%s latencies %+v", name, l)
				}
			}
		})
	}
}
