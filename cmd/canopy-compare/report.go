package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/internal/loadgen"
)

// measure is one system's figures in one cell.
type measure struct {
	OpsPerSec  float64           `json:"ops_per_sec"`
	P50ms      float64           `json:"p50_ms"`
	P99ms      float64           `json:"p99_ms"`
	Ops        uint64            `json:"ops"`
	Errors     uint64            `json:"errors"`
	ErrorKinds map[string]uint64 `json:"error_kinds,omitempty"`
	FirstError string            `json:"first_error,omitempty"`
	SetupError string            `json:"setup_error,omitempty"`
	// StealPct is the share of the machine's CPU time the hypervisor gave
	// to other guests during the measured window; -1 when unknown.
	StealPct float64 `json:"steal_pct"`
}

func measureOf(o loadgen.Outcome) measure {
	m := measure{
		Ops:        o.Hist.Count(),
		P50ms:      ms(o.Hist.Percentile(50)),
		P99ms:      ms(o.Hist.Percentile(99)),
		Errors:     o.ErrorCount(),
		FirstError: o.First,
		StealPct:   o.Steal,
	}
	if len(o.Errors) > 0 {
		m.ErrorKinds = o.Errors
	}
	if o.Elapsed > 0 {
		m.OpsPerSec = float64(m.Ops) / o.Elapsed.Seconds()
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cell is one workload at one client count, on both systems.
type cell struct {
	Workload  string  `json:"workload"`
	Clients   int     `json:"clients"`
	Canopy    measure `json:"canopy"`
	ZooKeeper measure `json:"zookeeper"`
	// Ratio is Canopy's figure over ZooKeeper's such that above 1.0 means
	// Canopy did better: ops/s for throughput workloads, ZooKeeper's p50
	// over Canopy's for the latency ones. 0 when either side is missing.
	Ratio float64 `json:"ratio"`
}

// ratio is how much better Canopy did than ZooKeeper (>1: better), or 0
// when a figure is missing.
func ratio(wl string, c, z measure) float64 {
	if c.SetupError != "" || z.SetupError != "" {
		return 0
	}
	if isLatency(wl) {
		return safeDiv(z.P50ms, c.P50ms)
	}
	return safeDiv(c.OpsPerSec, z.OpsPerSec)
}

func safeDiv(a, b float64) float64 {
	if b <= 0 || a <= 0 || math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return 0
	}
	return a / b
}

// machine is where the run happened.
type machine struct {
	CPUs      int    `json:"cpus"`
	Model     string `json:"cpu_model"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Java      string `json:"java"`
	ZooKeeper string `json:"zookeeper"`
	Commit    string `json:"commit"`
}

// report is results.json.
type report struct {
	Started  time.Time `json:"started"`
	WallS    float64   `json:"wall_s"`
	Duration string    `json:"cell_duration"`
	Warmup   string    `json:"cell_warmup"`
	Machine  machine   `json:"machine"`
	Cells    []cell    `json:"cells"`
}

func readMachine(java, zkAddr string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if java != "" {
		if out, err := exec.Command(java, "-version").CombinedOutput(); err == nil {
			m.Java = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		}
	}
	if zkAddr != "" {
		if out, err := fourLetter(zkAddr, "srvr"); err == nil {
			for _, l := range strings.Split(out, "\n") {
				if v, ok := strings.CutPrefix(l, "Zookeeper version: "); ok {
					m.ZooKeeper = strings.TrimSpace(v)
				}
			}
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.Commit += " (with uncommitted changes)"
		}
	}
	return m
}

func fmtOps(v float64) string {
	if v <= 0 {
		return "–"
	}
	s := fmt.Sprintf("%.0f", v)
	// thousands separators
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

func fmtMs(v float64) string {
	switch {
	case v <= 0:
		return "–"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

func fmtRatio(r float64) string {
	if r <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", r)
}

func fmtSteal(v float64) string {
	if v < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f%%", v)
}

// errNote is a system's failures in a cell, "" when it had none.
func errNote(name string, m measure) string {
	switch {
	case m.SetupError != "":
		return fmt.Sprintf("%s setup failed: %s", name, m.SetupError)
	case m.Errors > 0:
		return fmt.Sprintf("%s: %d errors (%s), first: %s", name, m.Errors, loadgen.ErrorSummary(m.ErrorKinds), m.FirstError)
	}
	return ""
}

// markdown is results.md.
func markdown(r report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Canopy beside ZooKeeper, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Three Canopy nodes and a three-server ZooKeeper ensemble on 127.0.0.1 of one machine, fsync on, ")
	fmt.Fprintf(&b, "both running throughout, loaded in turn by the same closed-loop generator (`internal/loadgen`): ")
	fmt.Fprintf(&b, "ZooKeeper through github.com/go-zookeeper/zk (a session per client), Canopy through its REST API (a keep-alive connection per client) and WebSocket for watches. ")
	fmt.Fprintf(&b, "Clients are spread round-robin over the three nodes of each system. Each cell: %s warm-up, then %s measured. `make compare` made this; wall time %s.\n\n",
		r.Warmup, r.Duration, (time.Duration(r.WallS) * time.Second).String())
	m := r.Machine
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n")
	fmt.Fprintf(&b, "| CPUs | %d × %s |\n| kernel | %s |\n| Go | %s |\n| Java | %s |\n| ZooKeeper | %s |\n| commit | %s |\n\n",
		m.CPUs, m.Model, m.Kernel, m.Go, m.Java, m.ZooKeeper, m.Commit)
	b.WriteString("**Ratio** is Canopy over ZooKeeper, above 1.0 when Canopy does better: ops/s for the throughput workloads, ZooKeeper's p50 over Canopy's for watch and lock-handoff. **Steal** is the CPU time the hypervisor took from this machine during the cell, Canopy's / ZooKeeper's: figures from cells with high steal are not comparable. ")
	b.WriteString("Note that ZooKeeper's `getData` is not linearizable (its linearizable read is `sync` + `getData`); Canopy's default get is.\n\n")
	b.WriteString("![ops/s and ratio per cell](chart.png)\n\n")
	b.WriteString(targetsSection(r.Cells))

	var order []string
	seen := map[string]bool{}
	for _, c := range r.Cells {
		if !seen[c.Workload] {
			seen[c.Workload] = true
			order = append(order, c.Workload)
		}
	}
	for _, wl := range order {
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", wl, describe[wl])
		b.WriteString("| clients | Canopy ops/s | p50 ms | p99 ms | ZooKeeper ops/s | p50 ms | p99 ms | Canopy/ZooKeeper | steal |\n")
		b.WriteString("|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		var notes []string
		for _, c := range r.Cells {
			if c.Workload != wl {
				continue
			}
			clients := fmt.Sprint(c.Clients)
			if isLatency(wl) {
				clients = "1 pair"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", clients,
				fmtOps(c.Canopy.OpsPerSec), fmtMs(c.Canopy.P50ms), fmtMs(c.Canopy.P99ms),
				fmtOps(c.ZooKeeper.OpsPerSec), fmtMs(c.ZooKeeper.P50ms), fmtMs(c.ZooKeeper.P99ms),
				fmtRatio(c.Ratio), fmtSteal(c.Canopy.StealPct), fmtSteal(c.ZooKeeper.StealPct))
			for _, n := range []string{errNote("Canopy", c.Canopy), errNote("ZooKeeper", c.ZooKeeper)} {
				if n != "" {
					notes = append(notes, fmt.Sprintf("- %s clients: %s", clients, strings.ReplaceAll(n, "\n", " ")))
				}
			}
		}
		if len(notes) > 0 {
			b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// writeReport writes results.md, results.json and chart.png into dir and
// points LATEST.md (in dir's parent) at it.
func writeReport(dir string, r report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(markdown(r)), 0o644); err != nil {
		return err
	}
	png, err := chartPNG(r.Cells)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "chart.png"), png, 0o644); err != nil {
		return err
	}
	name := filepath.Base(dir)
	latest := fmt.Sprintf("# The latest `make compare`\n\n[%s](%s/results.md): Canopy and ZooKeeper 3.8, three nodes each, side by side on one machine.\n\n![chart](%s/chart.png)\n", name, name, name)
	return os.WriteFile(filepath.Join(filepath.Dir(dir), "LATEST.md"), []byte(latest), 0o644)
}
