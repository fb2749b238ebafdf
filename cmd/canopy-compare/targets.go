package main

import (
	"fmt"
	"strings"
)

// target is one of issue 13's goals that a run can check.
type target struct {
	what     string
	workload string
	clients  int
	// check returns the measured figure, as written, and whether it meets
	// the goal; ok is false too when the cell is missing.
	check func(c cell) (figure string, ok bool)
}

func atLeastRatio(min float64) func(cell) (string, bool) {
	return func(c cell) (string, bool) { return fmtRatio(c.Ratio), c.Ratio >= min }
}

func canopyLatency(p50Max, p99Max float64) func(cell) (string, bool) {
	return func(c cell) (string, bool) {
		m := c.Canopy
		ok := m.P50ms > 0 && m.P50ms <= p50Max && (p99Max == 0 || m.P99ms <= p99Max)
		if p99Max == 0 {
			return fmt.Sprintf("p50 %s ms", fmtMs(m.P50ms)), ok
		}
		return fmt.Sprintf("p50 %s / p99 %s ms", fmtMs(m.P50ms), fmtMs(m.P99ms)), ok
	}
}

// issueTargets are issue 13's goals: ratios at 64 clients, latencies at a
// lone pair.
var issueTargets = []target{
	{"creates ≥ 1.0x ZooKeeper at 64 clients", wlCreate, 64, atLeastRatio(1.0)},
	{"sets ≥ 1.0x ZooKeeper at 64 clients", wlSet, 64, atLeastRatio(1.0)},
	{"linearizable gets ≥ 0.8x ZooKeeper's gets at 64 clients", wlGet, 64, atLeastRatio(0.8)},
	{"stale gets ≥ 1.0x ZooKeeper's gets at 64 clients", wlStaleGet, 64, atLeastRatio(1.0)},
	{"watch on a follower: p50 ≤ 1 ms, p99 ≤ 3 ms", wlWatch, 1, canopyLatency(1, 3)},
	{"lock handoff across nodes: p50 ≤ 3 ms", wlLock, 1, canopyLatency(3, 0)},
}

// targetsSection is results.md's check of the run against issue 13.
func targetsSection(cells []cell) string {
	var b strings.Builder
	b.WriteString("## Against issue 13's targets\n\n")
	b.WriteString("One run; the issue asks for the median of three.\n\n")
	b.WriteString("| target | measured | met |\n|---|--:|:-:|\n")
	for _, t := range issueTargets {
		fig, met := "not run", "–"
		for _, c := range cells {
			if c.Workload == t.workload && c.Clients == t.clients {
				f, ok := t.check(c)
				fig, met = f, "no"
				if ok {
					met = "yes"
				}
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.what, fig, met)
	}
	b.WriteString("\n")
	return b.String()
}
