package clustertest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchClient is httpClient with a deadline per request instead of a
// context: the benchmarks' loop is lean.
var benchClient = &http.Client{Transport: httpClient.Transport, Timeout: requestTimeout}

// benchFlags give benchmark clusters the server's default election timeout
// (the tests' shorter one is for quick failovers, not for figures).
var benchFlags = []string{"--election-timeout", "500ms"}

// BenchmarkCluster measures a 3-node cluster on this machine (fsync on, as
// always) with closed-loop clients over keep-alive connections, spread
// evenly over the three nodes. Each sub-benchmark's b.N is its number of
// requests; it reports ops/s and the p50 and p99 latency. Run with e.g.
//
//	go test ./clustertest -run '^$' -bench Cluster -benchtime 40000x
//	go test ./clustertest -run '^$' -bench Failover -benchtime 5x
//
// (-benchtime applies to both: give them separate runs.) Its load comes
// from Go's HTTP client in this process, which costs 50-90 us of CPU per
// request on the same two cores: the figures of record come from
// scripts/cluster-bench.sh, whose load is wrk's.
func BenchmarkCluster(b *testing.B) {
	c := startClusterWith(b, 3, false, benchFlags...)
	for _, p := range []string{"/bench", "/bench/set", "/bench/create"} {
		mustCreate(b, c.leader(b), p, "")
	}
	data := []byte(strings.Repeat("x", 100))
	mustCreate(b, c.leader(b), "/bench/get", string(data))
	for _, nd := range c.nodes { // every node has it before stale reads start
		if r := get(nd, "/v1/nodes/bench/get", requestTimeout); r.Status != http.StatusOK {
			b.Fatalf("read /bench/get on %s: %s", nd.id, r)
		}
	}
	var run atomic.Int64
	for _, op := range []string{"create", "set", "get", "stale-get"} {
		for _, clients := range []int{16, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", op, clients), func(b *testing.B) {
				parent := fmt.Sprintf("/bench/create/r%d", run.Add(1))
				switch op {
				case "create":
					mustCreate(b, c.nodes[0], parent, "")
				case "set":
					for i := 0; i < clients; i++ {
						post(c.nodes[i%3], fmt.Sprintf("/v1/nodes/bench/set/c%d", i), data, requestTimeout)
					}
				}
				// URLs are built beforehand, answers read into io.Discard: the
				// clients share the two cores with the three nodes.
				method, body := http.MethodGet, []byte(nil)
				urls := make([]string, clients)
				for i := range urls {
					base := c.nodes[i%3].url("/v1/nodes")
					switch op {
					case "create":
						method, body, urls[i] = http.MethodPost, data, fmt.Sprintf("%s%s/c%d-", base, parent, i)
					case "set":
						method, body, urls[i] = http.MethodPut, data, fmt.Sprintf("%s/bench/set/c%d", base, i)
					case "get":
						urls[i] = base + "/bench/get"
					case "stale-get":
						urls[i] = base + "/bench/get?consistency=stale"
					}
				}
				closedLoop(b, clients, func(client, n int) string {
					u := urls[client]
					if op == "create" {
						u += strconv.Itoa(n)
					}
					var rd io.Reader
					if body != nil {
						rd = bytes.NewReader(body)
					}
					req, _ := http.NewRequest(method, u, rd)
					resp, err := benchClient.Do(req)
					if err != nil {
						return "no answer"
					}
					defer resp.Body.Close()
					if resp.StatusCode/100 != 2 {
						return strconv.Itoa(resp.StatusCode)
					}
					if _, err := io.Copy(io.Discard, resp.Body); err != nil {
						return "no answer"
					}
					return ""
				})
			})
		}
	}
}

// closedLoop runs b.N requests over the clients and reports the throughput
// of the successful ones, latency percentiles and errors. do returns ""
// for a success, else the kind of failure.
func closedLoop(b *testing.B, clients int, do func(client, n int) string) {
	var left atomic.Int64
	left.Store(int64(b.N))
	lat := make([][]time.Duration, clients)
	fails := make([]map[string]int, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < clients; i++ {
		fails[i] = map[string]int{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; left.Add(-1) >= 0; n++ {
				t0 := time.Now()
				if kind := do(i, n); kind != "" {
					fails[i][kind]++
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	kinds := map[string]int{}
	errs := 0
	for _, f := range fails {
		for k, v := range f {
			kinds[k] += v
			errs += v
		}
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(errs), "errors")
	if errs > 0 {
		b.Logf("%d of %d requests failed: %v", errs, b.N, kinds)
	}
	// A few failures around a leader change are part of the figure; many
	// mean the run measured something else.
	if errs*20 > b.N {
		b.Errorf("%d of %d requests failed: %v", errs, b.N, kinds)
	}
}

// BenchmarkFailover measures, b.N times, the time from kill -9 of the
// leader to the first write acknowledged through a survivor, then restarts
// the killed node.
func BenchmarkFailover(b *testing.B) {
	c := startClusterWith(b, 3, false, benchFlags...)
	mustCreate(b, c.leader(b), "/failover", "")
	var total, worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		old := c.leader(b)
		survivors := c.others(old)
		b.StartTimer()
		killedAt := time.Now()
		old.kill(b)
		var took time.Duration
		for n := 0; ; n++ {
			r := post(survivors[n%2], fmt.Sprintf("/v1/nodes/failover/r%d-%d", i, n), nil, 2*time.Second)
			if r.Status == http.StatusCreated {
				took = time.Since(killedAt)
				break
			}
			if time.Since(killedAt) > 30*time.Second {
				b.Fatalf("no write acknowledged 30 s after the kill; last: %s", r)
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		total += took
		worst = max(worst, took)
		b.Logf("failover %d: leader %s killed, first write acknowledged after %v", i, old.id, took)
		old.restart(b)
		c.waitCaughtUp(b, old)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "failover-ms")
	b.ReportMetric(float64(worst.Milliseconds()), "max-failover-ms")
}
