package main

import (
	"encoding/json"
	"fmt"
	"io"
)

// writeText prints a result for people.
func writeText(w io.Writer, r *Result) {
	fmt.Fprintf(w, "mode %s, %s, auth %s, %d clients, %d users, %.1fs\n", r.Mode, r.Addr, r.Auth, r.Clients, r.Users, r.Seconds)
	if r.Idle == nil {
		fmt.Fprintf(w, "  sessions   %10d  %10.1f /s\n", r.Sessions, r.SessionsS)
		fmt.Fprintf(w, "  messages   %10d  %10.1f /s\n", r.Messages, r.MessagesS)
		fmt.Fprintf(w, "  octets     %10d  %10.2f MB/s\n", r.Bytes, r.MBs)
		if r.ServerCPUSeconds > 0 {
			fmt.Fprintf(w, "  CPU        server %.2fs (%.3f ms per session), client %.2fs\n", r.ServerCPUSeconds, r.ServerCPUPerSessionMs, r.ClientCPUSeconds)
		} else {
			fmt.Fprintf(w, "  CPU        client %.2fs\n", r.ClientCPUSeconds)
		}
		if r.DBCPUSeconds > 0 {
			fmt.Fprintf(w, "  CPU        database %.2fs (%.3f ms per session)\n", r.DBCPUSeconds, r.DBCPUPerSessionMs)
		}
		if r.StealPercent >= 0 {
			fmt.Fprintf(w, "  steal      %.1f%% of the machine's CPU time went to other virtual machines\n", r.StealPercent)
		}
	}
	if p := r.Poll; p != nil {
		fmt.Fprintf(w, "  poll of %d messages, %d times: login, STAT+UIDL, QUIT\n", p.Messages, p.Polls)
		writePercentiles(w, "login", p.Login)
		writePercentiles(w, "uidl", p.UIDL)
		writePercentiles(w, "quit", p.Quit)
		writePercentiles(w, "total", p.Total)
		fmt.Fprintf(w, "  verified: %s\n", r.Verified)
		fmt.Fprintf(w, "  errors %d, integrity errors %d\n", r.Errors, r.IntegrityErrors)
		for _, s := range r.ErrorSamples {
			fmt.Fprintf(w, "    %s\n", s)
		}
		return
	}
	writePercentiles(w, "login", r.Login)
	if r.Idle == nil {
		writePercentiles(w, "session", r.Session)
		if r.Retr.Count > 0 {
			writePercentiles(w, "retr", r.Retr)
		}
		if r.Pipelined {
			fmt.Fprintln(w, "  commands pipelined (RFC 2449)")
		}
	}
	if i := r.Idle; i != nil {
		fmt.Fprintf(w, "  held %d of %d connections (opened in %.1fs), %d alive at the end\n", i.Held, i.Connections, i.OpenSeconds, i.StillAliveAtEnd)
		if i.PSSMeasured {
			fmt.Fprintf(w, "  server PSS %d KiB (%d processes) -> %d KiB (%d processes): %.1f KiB per connection\n",
				i.PSSBeforeKiB, i.ProcessesBefore, i.PSSAfterKiB, i.ProcessesAfter, i.PSSPerConnKiB)
			if i.NoopRounds > 0 {
				fmt.Fprintf(w, "  after %d NOOP rounds: server PSS %d KiB, %.1f KiB per connection\n", i.NoopRounds, i.PSSAfterNoopKiB, i.PSSPerConnAfterNoopKiB)
			}
		}
	}
	fmt.Fprintf(w, "  verified: %s\n", r.Verified)
	fmt.Fprintf(w, "  errors %d, integrity errors %d\n", r.Errors, r.IntegrityErrors)
	if r.FailedInWarmup {
		fmt.Fprintln(w, "  the warm-up failed; nothing was measured")
	}
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(w, "    %s\n", s)
	}
}

func writePercentiles(w io.Writer, name string, p Percentiles) {
	fmt.Fprintf(w, "  %-8s latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (%d)\n", name, p.P50, p.P90, p.P99, p.Max, p.Count)
}

// writeJSON prints a result as indented JSON.
func writeJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
