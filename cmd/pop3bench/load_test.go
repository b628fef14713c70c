package main

import (
	"strings"
	"testing"
	"time"
)

func testConfig(addr string) *config {
	return &config{
		addr: addr, mode: modeSmall, clients: 2, connections: 1, duration: time.Second,
		users: 2, userPrefix: "user", userWidth: 3, password: "pw", auth: authUserPass,
		timeout: 2 * time.Second, dialPar: 2, bufSize: 512, settle: 0, hold: 0,
	}
}

func TestSessionChecks(t *testing.T) {
	boxes := sampleBoxes()
	src, err := loadSource(writeSourceTree(t, boxes), []string{"user000", "user001"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		flaw      flaw
		auth      string
		withSrc   bool
		integrity string // substring of the expected integrity error; "" for none
		errText   string // substring of the expected other error; "" for none
	}{
		{name: "correct server", flaw: flawNone, withSrc: true},
		{name: "correct server, AUTH PLAIN", flaw: flawNone, auth: authPlain, withSrc: true},
		{name: "correct server, no source", flaw: flawNone},
		{name: "no dot-stuffing", flaw: flawNoStuffing, integrity: "single '.'"},
		{name: "bare LF", flaw: flawBareLF, integrity: "bare LF"},
		{name: "LIST size", flaw: flawListSize, integrity: "LIST said"},
		{name: "STAT size", flaw: flawStatSize, integrity: "STAT said"},
		{name: "duplicate UIDL", flaw: flawDuplicateUID, integrity: "repeats the UID"},
		{name: "corrupt content", flaw: flawCorrupt, withSrc: true, integrity: "matches no source message"},
		{name: "corrupt content unseen without source", flaw: flawCorrupt},
		{name: "no close after QUIT", flaw: flawNoClose, errText: "did not close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTestPOP3(t, boxes, tc.flaw)
			cfg := testConfig(s.addr())
			if tc.auth != "" {
				cfg.auth = tc.auth
			}
			var use source
			if tc.withSrc {
				use = src
			}
			tl := newTally(1)
			runSession(cfg, use, "user000", tl, nil)
			if tc.integrity == "" && tc.errText == "" {
				if tl.sessions != 1 || tl.errors+tl.integrity != 0 {
					t.Fatalf("sessions %d, errors %d, integrity %d: %v", tl.sessions, tl.errors, tl.integrity, tl.samples)
				}
				if tl.messages != 2 {
					t.Errorf("retrieved %d messages, want 2", tl.messages)
				}
				want := int64(0)
				for _, m := range boxes["user000"] {
					want += int64(len(strings.ReplaceAll(m, "\n", "\r\n")))
				}
				if tl.bytes != want {
					t.Errorf("counted %d octets, want %d", tl.bytes, want)
				}
				if tl.login.seen != 1 || tl.session.seen != 1 {
					t.Errorf("latencies: %d logins, %d sessions recorded", tl.login.seen, tl.session.seen)
				}
				return
			}
			if tl.sessions != 0 {
				t.Errorf("a flawed session counted as a success")
			}
			if len(tl.samples) != 1 {
				t.Fatalf("samples %v", tl.samples)
			}
			if tc.integrity != "" && (tl.integrity != 1 || !strings.Contains(tl.samples[0], tc.integrity)) {
				t.Errorf("integrity %d, errors %d, sample %q; want an integrity error with %q", tl.integrity, tl.errors, tl.samples[0], tc.integrity)
			}
			if tc.errText != "" && (tl.errors != 1 || !strings.Contains(tl.samples[0], tc.errText)) {
				t.Errorf("errors %d, sample %q; want an error with %q", tl.errors, tl.samples[0], tc.errText)
			}
		})
	}
}

func TestSessionWrongPassword(t *testing.T) {
	s := startTestPOP3(t, sampleBoxes(), flawNone)
	cfg := testConfig(s.addr())
	cfg.password = "wrong"
	tl := newTally(1)
	runSession(cfg, nil, "user000", tl, nil)
	if tl.errors != 1 || tl.integrity != 0 || !strings.Contains(tl.samples[0], "-ERR [AUTH]") {
		t.Errorf("errors %d integrity %d samples %v", tl.errors, tl.integrity, tl.samples)
	}
}

func TestRunLoad(t *testing.T) {
	boxes := sampleBoxes()
	root := writeSourceTree(t, boxes)
	s := startTestPOP3(t, boxes, flawNone)
	cfg := testConfig(s.addr())
	cfg.clients = 3 // more clients than users: they take turns
	cfg.duration = 300 * time.Millisecond
	src, err := loadSource(root, cfg.userNames())
	if err != nil {
		t.Fatal(err)
	}
	cfg.warmup = true
	res := runLoad(cfg, src)
	if res.Errors+res.IntegrityErrors != 0 || res.FailedInWarmup {
		t.Fatalf("errors %d, integrity %d: %v", res.Errors, res.IntegrityErrors, res.ErrorSamples)
	}
	if res.Sessions == 0 || res.Messages < res.Sessions || res.Bytes == 0 {
		t.Errorf("sessions %d messages %d bytes %d", res.Sessions, res.Messages, res.Bytes)
	}
	if res.Login.Count != res.Sessions || res.Session.Count != res.Sessions {
		t.Errorf("latency counts %d/%d for %d sessions", res.Login.Count, res.Session.Count, res.Sessions)
	}
	if res.SessionsS <= 0 || res.MBs <= 0 {
		t.Errorf("rates %v %v", res.SessionsS, res.MBs)
	}
}

func TestRunLoadWarmupFailure(t *testing.T) {
	s := startTestPOP3(t, sampleBoxes(), flawListSize)
	cfg := testConfig(s.addr())
	cfg.warmup = true
	res := runLoad(cfg, nil)
	if !res.FailedInWarmup || res.IntegrityErrors == 0 {
		t.Errorf("failed in warm-up %v, integrity errors %d", res.FailedInWarmup, res.IntegrityErrors)
	}
}

func TestCheckUIDs(t *testing.T) {
	for _, tc := range []struct {
		uids []string
		ok   bool
	}{
		{[]string{"a", "b"}, true},
		{[]string{strings.Repeat("x", 70)}, true},
		{[]string{strings.Repeat("x", 71)}, false},
		{[]string{""}, false},
		{[]string{"a b"}, false},
		{[]string{"a\x7f"}, false},
		{[]string{"a", "a"}, false},
	} {
		if err := checkUIDs(tc.uids); (err == nil) != tc.ok {
			t.Errorf("checkUIDs(%q) = %v, want ok %v", tc.uids, err, tc.ok)
		}
	}
}
