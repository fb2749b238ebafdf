package loadgen

import (
	"context"
	"testing"
	"time"
)

func TestStealPercentIsStolenShareOfAllCPUTime(t *testing.T) {
	a, ok := parseCPULine("cpu  100 0 50 800 10 0 0 40 0 0")
	if !ok || a.Total != 1000 || a.Steal != 40 {
		t.Fatalf("parse: %+v %v", a, ok)
	}
	b, _ := parseCPULine("cpu  200 0 100 1400 20 0 0 80 7 0")
	if got, want := StealPercent(a, b), 100*40.0/800; got != want {
		t.Errorf("steal = %v, want %v", got, want)
	}
	if got := StealPercent(b, b); got != 0 {
		t.Errorf("no time passed: %v", got)
	}
	if _, ok := parseCPULine("cpu0 1 2 3 4 5 6 7 8"); ok {
		t.Error("a per-CPU line is not the total")
	}
}

func TestRunCountsOnlyTheMeasuredWindow(t *testing.T) {
	var calls int
	out := Run(t.Context(), Window{Clients: 1, Requests: 10, Timeout: time.Second}, func(ctx context.Context, id int, seq uint64) (string, string) {
		calls++
		if seq == 3 {
			return "boom", "boom: third"
		}
		return "", ""
	})
	if out.Hist.Count() != 9 || out.ErrorCount() != 1 || out.First != "boom: third" || calls != 10 {
		t.Errorf("count %d errors %d first %q calls %d", out.Hist.Count(), out.ErrorCount(), out.First, calls)
	}
}
