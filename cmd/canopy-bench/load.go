package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/internal/loadgen"
)

// config describes one run: one operation at one concurrency.
type config struct {
	Target   string        // base URL of a Canopy node, e.g. http://127.0.0.1:8900
	Op       string        // create, set, get, stale-get, floor
	Clients  int           // concurrent closed-loop clients
	Duration time.Duration // measured window; 0 = until Requests are done
	Requests int64         // measured requests in total; 0 = until Duration ends
	Warmup   time.Duration // load applied, not measured, before the window
	Size     int           // bytes of node data for create, set and the get node
	Prefix   string        // node under which the benchmark works
	Timeout  time.Duration // per request
}

var validOps = []string{"create", "set", "get", "stale-get", "floor"}

func (c *config) validate() error {
	ok := false
	for _, op := range validOps {
		if c.Op == op {
			ok = true
		}
	}
	switch {
	case !ok:
		return fmt.Errorf("unknown -op %q (want one of %s)", c.Op, strings.Join(validOps, ", "))
	case c.Clients < 1:
		return fmt.Errorf("-clients must be at least 1")
	case c.Duration < 0 || c.Requests < 0 || c.Warmup < 0 || c.Size < 0:
		return fmt.Errorf("-duration, -requests, -warmup and -size must not be negative")
	case c.Duration == 0 && c.Requests == 0:
		return fmt.Errorf("give -duration or -requests")
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout must be positive")
	}
	if c.Op != "floor" {
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-target %q is not an http(s) URL", c.Target)
		}
		if c.Prefix == "" || c.Prefix[0] != '/' || c.Prefix == "/" || strings.HasSuffix(c.Prefix, "/") || strings.Contains(c.Prefix, "//") {
			return fmt.Errorf("-prefix %q must be an absolute node path other than /", c.Prefix)
		}
	}
	return nil
}

// result is the outcome of one run; it is also the -json output.
type result struct {
	Op         string            `json:"op"`
	Target     string            `json:"target"`
	Clients    int               `json:"clients"`
	Size       int               `json:"size"`
	DurationS  float64           `json:"duration_s"`
	Ops        uint64            `json:"ops"`
	OpsPerSec  float64           `json:"ops_per_sec"`
	P50ms      float64           `json:"p50_ms"`
	P99ms      float64           `json:"p99_ms"`
	MaxMs      float64           `json:"max_ms"`
	MeanMs     float64           `json:"mean_ms"`
	Errors     uint64            `json:"errors"`
	ErrorKinds map[string]uint64 `json:"error_kinds,omitempty"`
	FirstError string            `json:"first_error,omitempty"`
	SetupError string            `json:"setup_error,omitempty"`
}

// failed reports whether the run had any error at all.
func (r *result) failed() bool { return r.Errors > 0 || r.SetupError != "" }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summarize turns raw counts into a result.
func summarize(cfg config, h *loadgen.Histogram, elapsed time.Duration, errs map[string]uint64, first string) result {
	r := result{
		Op: cfg.Op, Target: cfg.Target, Clients: cfg.Clients, Size: cfg.Size,
		DurationS:  elapsed.Seconds(),
		Ops:        h.Count(),
		P50ms:      ms(h.Percentile(50)),
		P99ms:      ms(h.Percentile(99)),
		MaxMs:      ms(h.Max()),
		MeanMs:     ms(h.Mean()),
		FirstError: first,
	}
	if elapsed > 0 {
		r.OpsPerSec = float64(h.Count()) / elapsed.Seconds()
	}
	for k, v := range errs {
		if r.ErrorKinds == nil {
			r.ErrorKinds = map[string]uint64{}
		}
		r.ErrorKinds[k] += v
		r.Errors += v
	}
	return r
}

// requestFunc builds request number seq of load client id.
type requestFunc func(ctx context.Context, id int, seq uint64) (*http.Request, error)

// prepare creates what the operation needs on the server and returns the
// request builder.
func prepare(ctx context.Context, cfg config, hc *http.Client) (requestFunc, error) {
	base := strings.TrimRight(cfg.Target, "/")
	data := loadgen.Payload(cfg.Size)
	nodes := base + "/v1/nodes"
	switch cfg.Op {
	case "floor":
		u := base + "/floor"
		return func(ctx context.Context, _ int, _ uint64) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		}, nil
	case "create":
		// A fresh parent per run, so runs against the same server never collide.
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		parent := fmt.Sprintf("%s/create-%s-x%d", cfg.Prefix, run, cfg.Clients)
		if err := loadgen.EnsureNode(ctx, hc, base, parent, nil); err != nil {
			return nil, err
		}
		pu := nodes + loadgen.EscapePath(parent) + "/c"
		return func(ctx context.Context, id int, seq uint64) (*http.Request, error) {
			b := make([]byte, 0, len(pu)+24)
			b = append(b, pu...)
			b = strconv.AppendInt(b, int64(id), 10)
			b = append(b, '-')
			b = strconv.AppendUint(b, seq, 10)
			return http.NewRequestWithContext(ctx, http.MethodPost, string(b), bytes.NewReader(data))
		}, nil
	case "set":
		urls := make([]string, cfg.Clients)
		for i := range urls {
			p := fmt.Sprintf("%s/set-c%d", cfg.Prefix, i)
			if err := loadgen.EnsureNode(ctx, hc, base, p, data); err != nil {
				return nil, err
			}
			urls[i] = nodes + loadgen.EscapePath(p)
		}
		return func(ctx context.Context, id int, _ uint64) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPut, urls[id], bytes.NewReader(data))
		}, nil
	case "get", "stale-get":
		p := cfg.Prefix + "/get-data"
		if err := loadgen.EnsureNode(ctx, hc, base, p, data); err != nil {
			return nil, err
		}
		u := nodes + loadgen.EscapePath(p)
		if cfg.Op == "stale-get" {
			u += "?consistency=stale"
		}
		return func(ctx context.Context, _ int, _ uint64) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		}, nil
	}
	return nil, fmt.Errorf("unknown op %q", cfg.Op)
}

// run executes one benchmark run. With Op "floor" it starts its own
// in-process HTTP server on 127.0.0.1:0 and loads that instead of Target.
func run(ctx context.Context, cfg config) result {
	if cfg.Op == "floor" {
		fs, err := startFloor()
		if err != nil {
			return result{Op: cfg.Op, Clients: cfg.Clients, SetupError: err.Error()}
		}
		defer fs.close()
		cfg.Target = fs.url
	}
	hc := loadgen.NewHTTPClient(cfg.Clients, cfg.Timeout)
	defer hc.CloseIdleConnections()

	setupCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	build, err := prepare(setupCtx, cfg, hc)
	cancel()
	if err != nil {
		r := summarize(cfg, loadgen.NewHistogram(), 0, nil, "")
		r.SetupError = err.Error()
		return r
	}
	w := loadgen.Window{Clients: cfg.Clients, Warmup: cfg.Warmup, Duration: cfg.Duration, Requests: cfg.Requests, Timeout: cfg.Timeout}
	out := loadgen.Run(ctx, w, func(ctx context.Context, id int, seq uint64) (string, string) {
		req, err := build(ctx, id, seq)
		if err != nil {
			return "request build", err.Error()
		}
		return loadgen.DoHTTP(hc, req)
	})
	return summarize(cfg, out.Hist, out.Elapsed, out.Errors, out.First)
}
