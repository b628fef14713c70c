package main

import (
	"errors"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	a, b := newLatencies(1), newLatencies(2)
	for i := 1; i <= 100; i++ {
		l := a
		if i%2 == 0 {
			l = b
		}
		l.add(time.Duration(i) * time.Millisecond)
	}
	p := percentiles(a, b)
	want := Percentiles{Count: 100, P50: 50, P90: 90, P99: 99, Max: 100}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if p := percentiles(newLatencies(3)); p != (Percentiles{}) {
		t.Errorf("empty: %+v", p)
	}
}

func TestLatenciesBounded(t *testing.T) {
	l := newLatencies(1)
	for i := range maxSamples + 1000 {
		l.add(time.Duration(i))
	}
	if len(l.samples) != maxSamples || l.seen != maxSamples+1000 {
		t.Errorf("kept %d of %d", len(l.samples), l.seen)
	}
}

func TestTallyFail(t *testing.T) {
	tl := newTally(1)
	for range maxErrorSamples + 5 {
		tl.fail(errors.New("x"))
	}
	tl.fail(integrityf("bad %d", 1))
	if tl.errors != maxErrorSamples+5 || tl.integrity != 1 || len(tl.samples) != maxErrorSamples {
		t.Errorf("errors %d integrity %d samples %d", tl.errors, tl.integrity, len(tl.samples))
	}
	var r Result
	r.merge([]*tally{tl}, 2*time.Second)
	if r.Errors != tl.errors || r.IntegrityErrors != 1 || r.Seconds != 2 {
		t.Errorf("merged %+v", r)
	}
}
