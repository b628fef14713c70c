package main

import (
	"strings"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:110", true},
		{"127.1.2.3:1110", true},
		{"[::1]:110", true},
		{"localhost:110", true},
		{"10.0.0.1:110", false},
		{"192.168.1.1:110", false},
		{"example.com:110", false},
		{"0.0.0.0:110", false},
		{"127.0.0.1", false},
		{"127.0.0.1:99999", false},
	} {
		if err := checkLoopback(tc.addr); (err == nil) != tc.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok %v", tc.addr, err, tc.ok)
		}
	}
}

func TestParseRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		bad  string
	}{
		{[]string{"-addr", "127.0.0.1:1110"}, ""},
		{[]string{"-mode", "idle", "-connections", "50", "-users", "50", "-pids", "1,2"}, ""},
		{[]string{"-mode", "idle", "-connections", "50", "-users", "20"}, "needs as many users"},
		{[]string{"-mode", "huge"}, "-mode"},
		{[]string{"-auth", "apop"}, "-auth"},
		{[]string{"-addr", "8.8.8.8:110"}, "loopback"},
		{[]string{"-clients", "0"}, "-clients"},
		{[]string{"-duration", "2h"}, "-duration"},
		{[]string{"-hold", "20m"}, "-hold"},
		{[]string{"-pids", "1,x"}, "-pids"},
		{[]string{"-procs", "1"}, ""},
		{[]string{"-procs", "-1"}, "-procs"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		_, err := parseRunFlags(tc.args)
		if tc.bad == "" && err != nil || tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%q: got %v, want %q", tc.args, err, tc.bad)
		}
	}
	cfg, err := parseRunFlags([]string{"-users", "3", "-first-user", "1000", "-user-width", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.userNames(), ","); got != "user1000,user1001,user1002" {
		t.Errorf("user names %s", got)
	}
}
