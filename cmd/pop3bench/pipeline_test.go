package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestPipelinedSessionChecks runs the checks of TestSessionChecks with the
// commands pipelined: the same faults must be found.
func TestPipelinedSessionChecks(t *testing.T) {
	boxes := sampleBoxes()
	src, err := loadSource(writeSourceTree(t, boxes), []string{"user000", "user001"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		flaw      flaw
		integrity string
		errText   string
	}{
		{name: "correct server", flaw: flawNone},
		{name: "no dot-stuffing", flaw: flawNoStuffing, integrity: "single '.'"},
		{name: "bare LF", flaw: flawBareLF, integrity: "bare LF"},
		{name: "LIST size", flaw: flawListSize, integrity: "LIST said"},
		{name: "STAT size", flaw: flawStatSize, integrity: "STAT said"},
		{name: "duplicate UIDL", flaw: flawDuplicateUID, integrity: "repeats the UID"},
		{name: "corrupt content", flaw: flawCorrupt, integrity: "matches no source message"},
		{name: "no close after QUIT", flaw: flawNoClose, errText: "did not close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTestPOP3(t, boxes, tc.flaw)
			cfg := testConfig(s.addr())
			cfg.pipeline = true
			tl := newTally(1)
			runSession(cfg, src, "user000", tl, nil)
			if tc.integrity == "" && tc.errText == "" {
				if tl.sessions != 1 || tl.errors+tl.integrity != 0 || tl.messages != 2 {
					t.Fatalf("sessions %d, messages %d, errors %d, integrity %d: %v", tl.sessions, tl.messages, tl.errors, tl.integrity, tl.samples)
				}
				if tl.retr.seen != 0 {
					t.Errorf("%d RETR latencies recorded for pipelined answers", tl.retr.seen)
				}
				return
			}
			if tl.sessions != 0 || len(tl.samples) != 1 {
				t.Fatalf("sessions %d, samples %v", tl.sessions, tl.samples)
			}
			if tc.integrity != "" && (tl.integrity != 1 || !strings.Contains(tl.samples[0], tc.integrity)) {
				t.Errorf("integrity %d, sample %q; want %q", tl.integrity, tl.samples[0], tc.integrity)
			}
			if tc.errText != "" && (tl.errors != 1 || !strings.Contains(tl.samples[0], tc.errText)) {
				t.Errorf("errors %d, sample %q; want %q", tl.errors, tl.samples[0], tc.errText)
			}
		})
	}
}

func TestRetrLatencyRecorded(t *testing.T) {
	s := startTestPOP3(t, sampleBoxes(), flawNone)
	cfg := testConfig(s.addr())
	tl := newTally(1)
	runSession(cfg, nil, "user000", tl, nil)
	if tl.sessions != 1 || tl.retr.seen != 2 {
		t.Errorf("sessions %d, RETR latencies %d, want 1 and 2: %v", tl.sessions, tl.retr.seen, tl.samples)
	}
}

func TestRunLoopback(t *testing.T) {
	cfg := testConfig("127.0.0.1:1")
	cfg.mode = modeLoopback
	cfg.clients = 2
	cfg.duration = 100 * time.Millisecond
	res, err := runLoopback(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors+res.IntegrityErrors != 0 || res.Bytes <= 0 || res.MBs <= 0 {
		t.Errorf("errors %d/%d, %d octets, %.1f MB/s: %v", res.Errors, res.IntegrityErrors, res.Bytes, res.MBs, res.ErrorSamples)
	}
}

func TestRunIdleNoopRounds(t *testing.T) {
	s := startTestPOP3(t, sampleBoxes(), flawNone)
	cfg := testConfig(s.addr())
	cfg.mode = modeIdle
	cfg.connections = 2
	cfg.noopEvery = time.Second
	cfg.hold = 2500 * time.Millisecond
	if _, err := os.Stat("/proc/self/smaps_rollup"); err == nil {
		cfg.pids = []int{os.Getpid()}
	}
	res, err := runIdle(cfg, 1024)
	if err != nil {
		t.Fatal(err)
	}
	i := res.Idle
	if res.Errors+res.IntegrityErrors != 0 || i.StillAliveAtEnd != 2 || i.NoopRounds < 1 {
		t.Fatalf("errors %d/%d, alive %d, NOOP rounds %d: %v", res.Errors, res.IntegrityErrors, i.StillAliveAtEnd, i.NoopRounds, res.ErrorSamples)
	}
	if cfg.pids != nil && i.PSSAfterNoopKiB <= 0 {
		t.Errorf("memory after the NOOP rounds not measured: %+v", i)
	}
}

func TestPipelineFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "idle", "-pipeline"},
		{"-mode", "small", "-noop-every", "1m"},
		{"-mode", "idle", "-noop-every", "10ms"},
	} {
		if _, err := parseRunFlags(args); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	for _, args := range [][]string{
		{"-mode", "loopback"},
		{"-mode", "small", "-pipeline"},
		{"-mode", "idle", "-users", "1000", "-noop-every", "1m"},
	} {
		if _, err := parseRunFlags(args); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}
