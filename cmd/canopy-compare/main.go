// Command canopy-compare runs Canopy beside ZooKeeper: it starts a 3-node
// ZooKeeper 3.8 ensemble (Debian's zookeeper package) and a 3-node Canopy
// cluster on 127.0.0.1, drives both with the same closed-loop generator
// (internal/loadgen) through the same workloads, and writes the results
// into a dated folder:
//
//	go run ./cmd/canopy-compare            # or: make compare
//	go run ./cmd/canopy-compare -duration 2s -clients 1,16 -workloads set,watch
//
// The folder (docs/compare/YYYY-MM-DD-HHMM/ by default) holds results.md,
// results.json and chart.png; docs/compare/LATEST.md is pointed at it. Every
// process it starts it stops by PID, also on Ctrl-C, and its temporary
// directories go with them. It must run from the repository's root (it
// builds ./cmd/canopy).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/canopy-coord/canopy/internal/childproc"
	"github.com/canopy-coord/canopy/internal/loadgen"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/zkserver"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	Duration  time.Duration
	Warmup    time.Duration
	Timeout   time.Duration
	Clients   []int
	Workloads []string
	Out       string
	Size      int
	Prewarm   time.Duration
	KeepTemp  bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("canopy-compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per cell (per system), after the warm-up")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "load applied before each measured window")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-request timeout")
	clients := fs.String("clients", "1,16,64", "client counts of the throughput workloads")
	workloads := fs.String("workloads", strings.Join(append(slices.Clone(throughputWorkloads), latencyWorkloads...), ","), "workloads to run")
	fs.StringVar(&o.Out, "out", filepath.Join("docs", "compare"), "folder under which the dated results folder is written")
	fs.IntVar(&o.Size, "size", 100, "bytes of node data")
	fs.BoolVar(&o.KeepTemp, "keep-temp", false, "keep the temporary folder (data directories and logs) for a post-mortem")
	fs.DurationVar(&o.Prewarm, "prewarm", 5*time.Second, "unmeasured sets and gets on each system before the first cell (the JVM's JIT, Go's heap)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, p := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-clients: %q is not a positive integer", p)
		}
		o.Clients = append(o.Clients, n)
	}
	known := append(slices.Clone(throughputWorkloads), latencyWorkloads...)
	for _, w := range strings.Split(*workloads, ",") {
		w = strings.TrimSpace(w)
		if !slices.Contains(known, w) {
			return o, fmt.Errorf("-workloads: unknown %q (known: %s)", w, strings.Join(known, ", "))
		}
		o.Workloads = append(o.Workloads, w)
	}
	if o.Duration <= 0 || o.Warmup < 0 || o.Timeout <= 0 || o.Size < 0 {
		return o, fmt.Errorf("-duration and -timeout must be positive, -warmup and -size not negative")
	}
	return o, nil
}

// portPicker hands out free loopback ports, never twice and never
// ZooKeeper's defaults (2181, 2888, 3888), which another ZooKeeper on the
// machine may want.
type portPicker struct{ used map[int]bool }

func (p *portPicker) next() (int, error) {
	if p.used == nil {
		p.used = map[int]bool{2181: true, 2888: true, 3888: true, 8080: true}
	}
	for i := 0; i < 50; i++ {
		addr, err := testkit.PickFreePort()
		if err != nil {
			return 0, err
		}
		_, ps, _ := strings.Cut(addr, ":")
		n, _ := strconv.Atoi(ps)
		if !p.used[n] {
			p.used[n] = true
			return n, nil
		}
	}
	return 0, fmt.Errorf("no free port found")
}

func realMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "canopy-compare:", err)
		}
		return 2
	}
	java, why := zkserver.Find()
	if why != "" {
		fmt.Fprintf(stderr, "canopy-compare: cannot compare with ZooKeeper: %s\n", why)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C ends at once

	if err := compare(ctx, o, java, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "canopy-compare:", err)
		return 1
	}
	return 0
}

// compare is the whole run: start both systems, run every cell, write the
// report, stop everything.
func compare(ctx context.Context, o options, java string, stdout, stderr io.Writer) error {
	began := time.Now()
	tmp, err := os.MkdirTemp("", "canopy-compare-")
	if err != nil {
		return err
	}
	if !o.KeepTemp {
		defer os.RemoveAll(tmp)
	}
	var procs []*childproc.Proc
	defer func() {
		// Stopped by PID, all at once: the JVMs take a while each.
		var wg sync.WaitGroup
		for _, p := range procs {
			wg.Add(1)
			go func(p *childproc.Proc) { defer wg.Done(); p.Stop() }(p)
		}
		wg.Wait()
		if o.KeepTemp {
			fmt.Fprintf(stderr, "stopped %d processes, kept %s\n", len(procs), tmp)
		} else {
			fmt.Fprintf(stderr, "stopped %d processes, removed %s\n", len(procs), tmp)
		}
	}()

	var ports portPicker
	fmt.Fprintln(stderr, "starting a 3-server ZooKeeper ensemble and building canopy ...")
	zkProcs, zkServers, err := startEnsemble(java, filepath.Join(tmp, "zookeeper"), &ports)
	procs = append(procs, zkProcs...)
	if err != nil {
		return err
	}
	bin, err := buildCanopy(ctx, tmp)
	if err != nil {
		return err
	}
	cProcs, cNodes, err := startCanopy(bin, filepath.Join(tmp, "canopy"), &ports)
	procs = append(procs, cProcs...)
	if err != nil {
		return err
	}
	if err := waitEnsemble(ctx, zkProcs, zkServers); err != nil {
		return err
	}
	if err := waitCanopy(ctx, cProcs, cNodes); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "ZooKeeper on %s, %s, %s; Canopy on %s, %s, %s\n",
		zkServers[0].clientAddr(), zkServers[1].clientAddr(), zkServers[2].clientAddr(),
		cNodes[0].HTTP, cNodes[1].HTTP, cNodes[2].HTTP)

	data := loadgen.Payload(o.Size)
	zks := &zkSystem{servers: zkServers, data: data}
	defer zks.Close()
	cs := newCanopySystem(cNodes, data, o.Timeout)
	defer cs.Close()

	rep := report{
		Started:  began.UTC(),
		Duration: o.Duration.String(),
		Warmup:   o.Warmup.String(),
		Machine:  readMachine(java, zkServers[0].clientAddr()),
	}
	if o.Prewarm > 0 {
		fmt.Fprintf(stderr, "pre-warming both systems for %s each ...\n", o.Prewarm)
		for _, s := range []system{cs, zks} {
			for _, wl := range []string{wlSet, wlGet} {
				warm := o
				warm.Warmup, warm.Duration = 0, o.Prewarm/2
				runCell(ctx, warm, s, wl, 16)
			}
		}
	}
	for _, wl := range o.Workloads {
		counts := o.Clients
		if isLatency(wl) {
			counts = []int{1}
		}
		for _, n := range counts {
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted: %w", ctx.Err())
			}
			c := cell{Workload: wl, Clients: n}
			c.Canopy = runCell(ctx, o, cs, wl, n)
			c.ZooKeeper = runCell(ctx, o, zks, wl, n)
			c.Ratio = ratio(wl, c.Canopy, c.ZooKeeper)
			fmt.Fprintf(stderr, "%-12s %3d  Canopy %9s ops/s p50 %6s p99 %6s | ZooKeeper %9s ops/s p50 %6s p99 %6s | %s  steal %s/%s\n",
				wl, n, fmtOps(c.Canopy.OpsPerSec), fmtMs(c.Canopy.P50ms), fmtMs(c.Canopy.P99ms),
				fmtOps(c.ZooKeeper.OpsPerSec), fmtMs(c.ZooKeeper.P50ms), fmtMs(c.ZooKeeper.P99ms),
				fmtRatio(c.Ratio), fmtSteal(c.Canopy.StealPct), fmtSteal(c.ZooKeeper.StealPct))
			for _, note := range []string{errNote("Canopy", c.Canopy), errNote("ZooKeeper", c.ZooKeeper)} {
				if note != "" {
					fmt.Fprintln(stderr, "  ", note)
				}
			}
			rep.Cells = append(rep.Cells, c)
			// A node that died makes every later figure meaningless.
			for _, p := range procs {
				if p.Dead() {
					return fmt.Errorf("%s exited during %s at %d clients (%v); its log ends:\n%s", p.Name, wl, n, p.Err(), p.Tail())
				}
			}
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	rep.WallS = time.Since(began).Seconds()
	dir := filepath.Join(o.Out, began.UTC().Format("2006-01-02-1504"))
	if err := writeReport(dir, rep); err != nil {
		return err
	}
	fmt.Fprint(stdout, markdown(rep))
	fmt.Fprintf(stderr, "wrote %s (results.md, results.json, chart.png) in %s\n", dir, time.Since(began).Round(time.Second))
	return nil
}

// runCell runs one workload at n clients on one system.
func runCell(ctx context.Context, o options, s system, wl string, n int) measure {
	setup, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	w := loadgen.Window{Clients: n, Warmup: o.Warmup, Duration: o.Duration, Timeout: o.Timeout}
	var out loadgen.Outcome
	switch wl {
	case wlWatch, wlLock:
		get := s.Watch
		if wl == wlLock {
			get = s.Lock
		}
		op, done, err := get(setup)
		if err != nil {
			return measure{SetupError: err.Error(), StealPct: -1}
		}
		w.Clients = 1
		out = loadgen.RunTimed(ctx, w, op)
		done()
	default:
		op, done, err := s.Throughput(setup, wl, n)
		if err != nil {
			return measure{SetupError: err.Error(), StealPct: -1}
		}
		out = loadgen.Run(ctx, w, op)
		done()
	}
	// A moment for the system to settle (fsyncs, GC) before the next cell.
	_ = sleepCtx(ctx, 500*time.Millisecond)
	return measureOf(out)
}
