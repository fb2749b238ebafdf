package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/loadgen"
)

func TestSummarize(t *testing.T) {
	h := loadgen.NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	cfg := config{Op: "get", Clients: 4, Size: 100}
	r := summarize(cfg, h, 2*time.Second, map[string]uint64{"503 Unavailable": 3, "timeout": 1}, "503 Unavailable: no leader")
	if r.Ops != 1000 || r.OpsPerSec != 500 || r.Errors != 4 || !r.failed() {
		t.Fatalf("bad summary %+v", r)
	}
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > want/128 {
			t.Errorf("%s = %v, want ~%v", name, got, want)
		}
	}
	near("p50", r.P50ms, 0.5)
	near("p99", r.P99ms, 0.99)
	near("max", r.MaxMs, 1.0)
	near("mean", r.MeanMs, 0.5005)
	line := formatLine(r)
	for _, want := range []string{"get", "clients=4", "ops/s=500", "errors=4", "503 Unavailable=3", "timeout=1"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	table := markdownTable([]result{r, {Op: "set", Clients: 1, SetupError: "create /bench: 500"}})
	if !strings.Contains(table, "| get | 4 | 500 |") || !strings.Contains(table, "setup failed") {
		t.Errorf("table:\n%s", table)
	}
	if r := summarize(cfg, loadgen.NewHistogram(), 0, nil, ""); r.OpsPerSec != 0 || r.failed() {
		t.Errorf("empty summary %+v", r)
	}
}

// fakeCanopy is a minimal in-memory imitation of Canopy's node routes,
// strict about what the benchmark sends.
type fakeCanopy struct {
	mu        sync.Mutex
	nodes     map[string][]byte
	conns     atomic.Int64
	stale     atomic.Int64
	linear    atomic.Int64
	failEvery int64 // answer 503 to every n-th load request (0: never)
	reqs      atomic.Int64
	badReqs   atomic.Int64 // requests the fake did not expect
}

func newFake() *fakeCanopy {
	return &fakeCanopy{nodes: map[string][]byte{"/": nil}}
}

func writeErr(w http.ResponseWriter, status int, code, p string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":"fake","path":%q}}`, code, p)
}

func (f *fakeCanopy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Canopy-Zxid", "1")
	p, ok := strings.CutPrefix(r.URL.Path, "/v1/nodes")
	if !ok || p == "" {
		f.badReqs.Add(1)
		writeErr(w, 404, "NotFound", r.URL.Path)
		return
	}
	q := r.URL.Query()
	for k := range q {
		if k != "parents" && k != "consistency" {
			f.badReqs.Add(1)
			writeErr(w, 400, "BadArguments", p)
			return
		}
	}
	body, _ := io.ReadAll(r.Body)
	if f.failEvery > 0 && f.reqs.Add(1)%f.failEvery == 0 {
		writeErr(w, 503, "Unavailable", p)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		if _, ok := f.nodes[p]; ok {
			writeErr(w, 409, "NodeExists", p)
			return
		}
		if _, ok := f.nodes[path.Dir(p)]; !ok {
			if !q.Has("parents") {
				writeErr(w, 404, "NoNode", p)
				return
			}
			for d := path.Dir(p); d != "/"; d = path.Dir(d) {
				if _, ok := f.nodes[d]; !ok {
					f.nodes[d] = nil
				}
			}
		}
		f.nodes[p] = body
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"path":%q,"stat":{}}`, p)
	case http.MethodPut:
		if _, ok := f.nodes[p]; !ok {
			writeErr(w, 404, "NoNode", p)
			return
		}
		f.nodes[p] = body
		fmt.Fprintf(w, `{"path":%q,"stat":{}}`, p)
	case http.MethodGet:
		d, ok := f.nodes[p]
		if !ok {
			writeErr(w, 404, "NoNode", p)
			return
		}
		switch q.Get("consistency") {
		case "stale":
			f.stale.Add(1)
		case "":
			f.linear.Add(1)
		default:
			f.badReqs.Add(1)
		}
		b, _ := json.Marshal(map[string]any{"path": p, "data": string(d), "encoding": "utf8", "stat": map[string]any{}})
		w.Write(b)
	default:
		writeErr(w, 405, "MethodNotAllowed", p)
	}
}

func startFake(t *testing.T, f *fakeCanopy) *httptest.Server {
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func testConfig(target, op string, clients int) config {
	return config{
		Target: target, Op: op, Clients: clients,
		Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
		Size: 100, Prefix: "/bench/t", Timeout: 5 * time.Second,
	}
}

func TestRunAgainstFake(t *testing.T) {
	for _, op := range []string{"create", "set", "get", "stale-get"} {
		t.Run(op, func(t *testing.T) {
			f := newFake()
			srv := startFake(t, f)
			const clients = 4
			cfg := testConfig(srv.URL, op, clients)
			if err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			r := run(context.Background(), cfg)
			if r.SetupError != "" || r.Errors != 0 {
				t.Fatalf("run failed: %s", formatLine(r))
			}
			if r.Ops == 0 || r.OpsPerSec <= 0 || r.P50ms <= 0 || r.P99ms < r.P50ms || r.MaxMs < r.P99ms {
				t.Fatalf("implausible result: %s", formatLine(r))
			}
			if math.Abs(r.DurationS-0.3) > 1e-9 {
				t.Errorf("duration %v, want the measured window 0.3", r.DurationS)
			}
			if n := f.badReqs.Load(); n != 0 {
				t.Errorf("%d unexpected requests", n)
			}
			// Keep-alive: about one connection per client, not one per
			// request (the transport may dial a spare one at start-up).
			if n := f.conns.Load(); n > 2*clients+2 {
				t.Errorf("%d connections for %d clients: keep-alive not working", n, clients)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			switch op {
			case "create":
				var created int
				for p, d := range f.nodes {
					if strings.HasPrefix(p, "/bench/t/create-") && path.Dir(p) != "/bench/t" {
						created++
						if len(d) != 100 {
							t.Fatalf("node %s has %d bytes", p, len(d))
						}
					}
				}
				// Warm-up creates count on the server but not in the result.
				if uint64(created) < r.Ops {
					t.Errorf("%d nodes created, %d ops reported", created, r.Ops)
				}
			case "set":
				for i := 0; i < clients; i++ {
					if d, ok := f.nodes[fmt.Sprintf("/bench/t/set-c%d", i)]; !ok || len(d) != 100 {
						t.Errorf("set node %d missing or wrong", i)
					}
				}
			case "get":
				if f.linear.Load() < int64(r.Ops) || f.stale.Load() != 0 {
					t.Errorf("linear %d stale %d ops %d", f.linear.Load(), f.stale.Load(), r.Ops)
				}
			case "stale-get":
				if f.stale.Load() < int64(r.Ops) || f.linear.Load() != 0 {
					t.Errorf("linear %d stale %d ops %d", f.linear.Load(), f.stale.Load(), r.Ops)
				}
			}
		})
	}
}

func TestErrorsAreCounted(t *testing.T) {
	f := newFake()
	srv := startFake(t, f)
	cfg := testConfig(srv.URL, "get", 2)
	// Set up first, then make every 3rd request fail.
	if _, err := prepare(context.Background(), cfg, loadgen.NewHTTPClient(1, time.Second)); err != nil {
		t.Fatal(err)
	}
	f.failEvery = 3
	r := run(context.Background(), cfg)
	if r.Errors == 0 || r.ErrorKinds["503 Unavailable"] != r.Errors || !r.failed() {
		t.Fatalf("errors not counted: %+v", r)
	}
	ratio := float64(r.Errors) / float64(r.Errors+r.Ops)
	if ratio < 0.2 || ratio > 0.45 {
		t.Errorf("error ratio %.2f, want ~1/3 (ops %d errors %d)", ratio, r.Ops, r.Errors)
	}
	if !strings.Contains(r.FirstError, "Unavailable") {
		t.Errorf("first error %q", r.FirstError)
	}
}

func TestSetupFailureAndDeadServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, 500, "Internal", r.URL.Path)
	}))
	defer srv.Close()
	r := run(context.Background(), testConfig(srv.URL, "set", 2))
	if r.SetupError == "" || !r.failed() {
		t.Fatalf("setup failure not reported: %+v", r)
	}

	// A server that went away: every request is a transport error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r = run(context.Background(), testConfig("http://"+addr, "get", 1))
	if !r.failed() {
		t.Fatalf("dead server not reported: %+v", r)
	}
}

func TestRequestsMode(t *testing.T) {
	f := newFake()
	srv := startFake(t, f)
	cfg := testConfig(srv.URL, "create", 3)
	cfg.Duration, cfg.Requests = 0, 500
	r := run(context.Background(), cfg)
	if r.failed() || r.Ops != 500 || r.DurationS <= 0 {
		t.Fatalf("requests mode: %s", formatLine(r))
	}
}

func TestFloorAndMatrixCLI(t *testing.T) {
	var out, errOut bytes.Buffer
	code := realMain([]string{"-op", "floor", "-clients", "4", "-duration", "200ms", "-warmup", "50ms", "-json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("bad json %q: %v", out.String(), err)
	}
	if r.Op != "floor" || r.Clients != 4 || r.Ops == 0 || r.Errors != 0 || r.OpsPerSec <= 0 {
		t.Fatalf("floor: %+v", r)
	}

	f := newFake()
	srv := startFake(t, f)
	out.Reset()
	errOut.Reset()
	code = realMain([]string{"-target", srv.URL, "-matrix", "-matrix-clients", "1,2", "-duration", "100ms", "-warmup", "20ms", "-prefix", "/m"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("matrix exit %d: %s", code, errOut.String())
	}
	table := out.String()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2+5*2 {
		t.Fatalf("table has %d lines:\n%s", len(lines), table)
	}
	for _, want := range []string{"| create | 1 |", "| set | 2 |", "| get | 1 |", "| stale-get | 2 |", "| floor | 2 |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}

	if code := realMain([]string{"-op", "nope"}, &out, &errOut); code != 2 {
		t.Errorf("bad op exit %d", code)
	}
}
