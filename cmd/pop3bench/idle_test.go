package main

import (
	"os"
	"testing"
)

func TestRunIdle(t *testing.T) {
	s := startTestPOP3(t, sampleBoxes(), flawNone)
	cfg := testConfig(s.addr())
	cfg.mode = modeIdle
	cfg.connections = 2
	if _, err := os.Stat("/proc/self/smaps_rollup"); err == nil {
		cfg.pids = []int{os.Getpid()} // the test server runs in this process
	}
	res, err := runIdle(cfg, 1024)
	if err != nil {
		t.Fatal(err)
	}
	i := res.Idle
	if res.Errors+res.IntegrityErrors != 0 || i.Held != 2 || i.StillAliveAtEnd != 2 || res.Login.Count != 2 {
		t.Fatalf("errors %d/%d, held %d, alive %d, logins %d: %v", res.Errors, res.IntegrityErrors, i.Held, i.StillAliveAtEnd, res.Login.Count, res.ErrorSamples)
	}
	if cfg.pids != nil && (!i.PSSMeasured || i.PSSBeforeKiB <= 0 || i.PSSAfterKiB <= 0) {
		t.Errorf("memory not measured: %+v", i)
	}
}

func TestRunIdleLoginFailure(t *testing.T) {
	s := startTestPOP3(t, sampleBoxes(), flawNone)
	cfg := testConfig(s.addr())
	cfg.mode = modeIdle
	cfg.connections = 2
	cfg.firstUser = 1 // user001 exists, user002 does not
	res, err := runIdle(cfg, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 1 || res.Idle.Held != 1 || res.Idle.StillAliveAtEnd != 1 {
		t.Errorf("errors %d, held %d, alive %d", res.Errors, res.Idle.Held, res.Idle.StillAliveAtEnd)
	}
}
