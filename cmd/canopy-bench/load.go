package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
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

// newHTTPClient returns a keep-alive client able to hold one idle connection
// per load client. Proxies from the environment are ignored: the benchmark
// talks to the target directly.
func newHTTPClient(clients int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2*clients + 8,
		MaxIdleConnsPerHost: 2*clients + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// escapePath percent-encodes each segment of an absolute node path.
func escapePath(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/" + strings.Join(segs, "/")
}

// payload returns n bytes of printable ASCII, so the server returns the data
// as utf8 text (as most users' data is).
func payload(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[i%len(alphabet)]
	}
	return b
}

// apiError extracts "<status> <code>" from an error response.
func apiError(resp *http.Response) (kind, msg string) {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	kind = strconv.Itoa(resp.StatusCode)
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		kind += " " + e.Error.Code
		return kind, kind + ": " + e.Error.Message
	}
	txt := strings.TrimSpace(string(body))
	if len(txt) > 200 {
		txt = txt[:200] + "..."
	}
	return kind, kind + ": " + txt
}

// transportKind names a transport error compactly for the error table.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "connection reset"
	}
	return "transport error"
}

// call is a setup request: it returns the status and the error code, if any.
func call(ctx context.Context, hc *http.Client, method, u string, body []byte) (int, string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, "", nil
	}
	kind, msg := apiError(resp)
	return resp.StatusCode, kind, errors.New(msg)
}

// ensureNode makes path exist (with its ancestors) holding data.
func ensureNode(ctx context.Context, hc *http.Client, base, path string, data []byte) error {
	u := base + "/v1/nodes" + escapePath(path)
	st, _, err := call(ctx, hc, http.MethodPost, u+"?parents", data)
	switch {
	case st == http.StatusCreated:
		return nil
	case st == http.StatusConflict:
		// It exists already (NodeExists): give it our data.
		if _, _, err := call(ctx, hc, http.MethodPut, u, data); err != nil {
			return fmt.Errorf("set %s: %w", path, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("create %s: %w", path, err)
	default:
		return fmt.Errorf("create %s: unexpected status %d", path, st)
	}
}

// requestFunc builds request number seq of load client id.
type requestFunc func(ctx context.Context, id int, seq uint64) (*http.Request, error)

// prepare creates what the operation needs on the server and returns the
// request builder.
func prepare(ctx context.Context, cfg config, hc *http.Client) (requestFunc, error) {
	base := strings.TrimRight(cfg.Target, "/")
	data := payload(cfg.Size)
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
		if err := ensureNode(ctx, hc, base, parent, nil); err != nil {
			return nil, err
		}
		pu := nodes + escapePath(parent) + "/c"
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
			if err := ensureNode(ctx, hc, base, p, data); err != nil {
				return nil, err
			}
			urls[i] = nodes + escapePath(p)
		}
		return func(ctx context.Context, id int, _ uint64) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPut, urls[id], bytes.NewReader(data))
		}, nil
	case "get", "stale-get":
		p := cfg.Prefix + "/get-data"
		if err := ensureNode(ctx, hc, base, p, data); err != nil {
			return nil, err
		}
		u := nodes + escapePath(p)
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
	hc := newHTTPClient(cfg.Clients, cfg.Timeout)
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
		return doOne(hc, req)
	})
	return summarize(cfg, out.Hist, out.Elapsed, out.Errors, out.First)
}

// doOne sends a request and reads the whole answer. It returns an empty
// kind on a 2xx answer, else the error's kind and message.
func doOne(hc *http.Client, req *http.Request) (kind, msg string) {
	resp, err := hc.Do(req)
	if err != nil {
		return transportKind(err), err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return apiError(resp)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return transportKind(err), "reading body: " + err.Error()
	}
	return "", ""
}

// errorSummary renders error kinds as "503 Unavailable=3, timeout=1".
func errorSummary(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
