// Command canopy-bench is Canopy's HTTP load generator.
//
// It runs closed-loop clients (each sends a request, reads the whole answer,
// then sends the next) over keep-alive connections against one Canopy node
// and reports throughput and latency:
//
//	canopy-bench -target http://127.0.0.1:8900 -op get -clients 16 -duration 5s
//	canopy-bench -target http://127.0.0.1:8900 -op create -clients 64 -requests 100000 -json
//	canopy-bench -target http://127.0.0.1:8900 -matrix
//
// Operations: create (POST distinct nodes c<client>-<n> under a fresh parent
// below -prefix), set (PUT to a node per client), get (GET one node,
// linearizable), stale-get (the same with ?consistency=stale) and floor (GET
// from a trivial HTTP server the tool starts in-process on 127.0.0.1:0: the
// HTTP floor of the machine). Load runs for -warmup (1 s) before the measured
// window. Every transport error and every non-2xx answer is an error; the
// exit status is 1 when any run had one.
//
// -matrix runs {create,set,get,stale-get} x {1,16,64} clients plus floor at
// {1,16,64} and prints a markdown table (or JSON lines with -json).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/canopy-coord/canopy/internal/loadgen"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("canopy-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.Target, "target", "http://127.0.0.1:8900", "base URL of the Canopy node")
	fs.StringVar(&cfg.Op, "op", "get", "operation: create, set, get, stale-get or floor")
	fs.IntVar(&cfg.Clients, "clients", 16, "concurrent closed-loop clients")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "measured time per run (after the warm-up)")
	fs.Int64Var(&cfg.Requests, "requests", 0, "measured requests per run in total (0: run for -duration)")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "load applied before measuring")
	fs.IntVar(&cfg.Size, "size", 100, "bytes of node data for create, set and get")
	fs.StringVar(&cfg.Prefix, "prefix", "/bench", "node under which the benchmark creates its nodes")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	jsonOut := fs.Bool("json", false, "print JSON (one object per line) instead of text")
	matrix := fs.Bool("matrix", false, "run every op at every client count and print a markdown table")
	matrixOps := fs.String("matrix-ops", "create,set,get,stale-get", "ops run by -matrix against the target")
	matrixClients := fs.String("matrix-clients", "1,16,64", "client counts used by -matrix")
	matrixFloor := fs.Bool("matrix-floor", true, "add floor rows to -matrix")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "canopy-bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	// -requests alone means "this many requests", not "this many or 5 s".
	durationSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "duration" {
			durationSet = true
		}
	})
	if cfg.Requests > 0 && !durationSet {
		cfg.Duration = 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if !*matrix {
		if err := cfg.validate(); err != nil {
			fmt.Fprintln(stderr, "canopy-bench:", err)
			return 2
		}
		r := run(ctx, cfg)
		if *jsonOut {
			printJSON(stdout, r)
		} else {
			fmt.Fprintln(stdout, formatLine(r))
		}
		if r.failed() {
			return 1
		}
		return 0
	}

	ops := splitList(*matrixOps)
	clients, err := parseInts(*matrixClients)
	if err != nil {
		fmt.Fprintln(stderr, "canopy-bench: -matrix-clients:", err)
		return 2
	}
	var cells []config
	for _, op := range ops {
		for _, n := range clients {
			c := cfg
			c.Op, c.Clients = op, n
			cells = append(cells, c)
		}
	}
	if *matrixFloor {
		for _, n := range clients {
			c := cfg
			c.Op, c.Clients = "floor", n
			cells = append(cells, c)
		}
	}
	for _, c := range cells {
		if err := c.validate(); err != nil {
			fmt.Fprintln(stderr, "canopy-bench:", err)
			return 2
		}
	}
	var results []result
	failed := false
	for _, c := range cells {
		if ctx.Err() != nil {
			break
		}
		r := run(ctx, c)
		results = append(results, r)
		failed = failed || r.failed()
		if *jsonOut {
			printJSON(stdout, r)
		} else {
			fmt.Fprintln(stderr, formatLine(r)) // progress
		}
	}
	if !*jsonOut {
		fmt.Fprint(stdout, markdownTable(results))
	}
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

func printJSON(w io.Writer, r result) {
	b, _ := json.Marshal(r)
	fmt.Fprintf(w, "%s\n", b)
}

// formatLine is the human-readable one-line report of a run.
func formatLine(r result) string {
	if r.SetupError != "" {
		return fmt.Sprintf("%-9s clients=%-3d SETUP FAILED: %s", r.Op, r.Clients, r.SetupError)
	}
	s := fmt.Sprintf("%-9s clients=%-3d duration=%.2fs ops=%d ops/s=%.0f p50=%.3fms p99=%.3fms max=%.3fms errors=%d",
		r.Op, r.Clients, r.DurationS, r.Ops, r.OpsPerSec, r.P50ms, r.P99ms, r.MaxMs, r.Errors)
	if r.Errors > 0 {
		s += " [" + loadgen.ErrorSummary(r.ErrorKinds) + "] first: " + r.FirstError
	}
	return s
}

// markdownTable renders the results of a matrix.
func markdownTable(rs []result) string {
	var b strings.Builder
	b.WriteString("| op | clients | ops/s | p50 (ms) | p99 (ms) | max (ms) | errors |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rs {
		if r.SetupError != "" {
			fmt.Fprintf(&b, "| %s | %d | setup failed: %s | | | | |\n", r.Op, r.Clients, strings.ReplaceAll(r.SetupError, "|", "\\|"))
			continue
		}
		errs := strconv.FormatUint(r.Errors, 10)
		if r.Errors > 0 {
			errs += " (" + strings.ReplaceAll(loadgen.ErrorSummary(r.ErrorKinds), "|", "\\|") + ")"
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.3f | %.3f | %.3f | %s |\n",
			r.Op, r.Clients, r.OpsPerSec, r.P50ms, r.P99ms, r.MaxMs, errs)
	}
	return b.String()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", p)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no client counts")
	}
	return out, nil
}
