package clustertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
)

// httpClient talks to every node over keep-alive connections, never
// through a proxy from the environment. Each request carries its own
// deadline.
var httpClient = &http.Client{Transport: &http.Transport{
	Proxy:               nil,
	DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:        512,
	MaxIdleConnsPerHost: 128,
	IdleConnTimeout:     30 * time.Second,
	DisableCompression:  true,
}}

// reply is what a request got: a status and body, or a transport error
// (Status 0).
type reply struct {
	Status  int
	Body    []byte
	Zxid    int64
	Header  http.Header
	Err     error
	Elapsed time.Duration
}

func (r reply) String() string {
	if r.Err != nil {
		return "transport error: " + r.Err.Error()
	}
	return fmt.Sprintf("%d %s", r.Status, clip(string(r.Body)))
}

// code is the error code of an error body, "" otherwise.
func (r reply) code() api.Code {
	var e api.ErrorBody
	if json.Unmarshal(r.Body, &e) == nil && e.Error != nil {
		return e.Error.Code
	}
	return ""
}

// unknown reports an answer that leaves a write's outcome unknown: 503,
// 504 or no answer at all.
func (r reply) unknown() bool {
	return r.Err != nil || r.Status == http.StatusServiceUnavailable || r.Status == http.StatusGatewayTimeout
}

func (r reply) want(status int) error {
	if r.Status != status {
		return fmt.Errorf("got %s, want %d", r, status)
	}
	return nil
}

func (r reply) decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %s: %w", clip(string(r.Body)), err)
	}
	return nil
}

// call sends one request to nd within timeout. hdr is name, value pairs.
func call(nd *node, method, path string, body []byte, timeout time.Duration, hdr ...string) reply {
	return callURL(method, nd.url(path), body, timeout, hdr...)
}

func callURL(method, url string, body []byte, timeout time.Duration, hdr ...string) reply {
	ctx, cancel := ctxTimeout(timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{Err: err}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	start := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return reply{Err: err, Elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Body: b, Header: resp.Header, Err: err, Elapsed: time.Since(start)}
	r.Zxid, _ = strconv.ParseInt(resp.Header.Get("Canopy-Zxid"), 10, 64)
	return r
}

func get(nd *node, path string, timeout time.Duration) reply {
	return call(nd, http.MethodGet, path, nil, timeout)
}

func post(nd *node, path string, body []byte, timeout time.Duration, hdr ...string) reply {
	return call(nd, http.MethodPost, path, body, timeout, hdr...)
}

// requestTimeout is the deadline the tests give one request. The server
// bounds a request without a deadline of its own by 10 s
// (consensus.DefaultTimeout); the rest is slack for a loaded machine.
const requestTimeout = 12 * time.Second

// mustCreate creates a persistent node through nd.
func mustCreate(t testingT, nd *node, path, data string) {
	t.Helper()
	if err := createRetrying(nd, path, data); err != nil {
		t.Fatalf("%v", err)
	}
}

// createRetrying creates a node through nd as a careful client does: an
// answer of unknown outcome (503, 504, none: the leader stepped down, as it
// may on a loaded machine while a member is down) is retried, and a
// NodeExists after one means the earlier try took effect.
func createRetrying(nd *node, path, data string) error {
	return retryUnknown(func(retry bool) (bool, reply) {
		r := post(nd, "/v1/nodes"+path, []byte(data), requestTimeout)
		return r.Status == http.StatusCreated || retry && r.Status == http.StatusConflict, r
	}, "create "+path+" through "+nd.id)
}

// setRetrying sets a node's data (any version) through nd, retrying an
// answer of unknown outcome: the set is idempotent.
func setRetrying(nd *node, path, data string) error {
	return retryUnknown(func(bool) (bool, reply) {
		r := call(nd, http.MethodPut, "/v1/nodes"+path, []byte(data), requestTimeout)
		return r.Status == http.StatusOK, r
	}, "set "+path+" through "+nd.id)
}

// retryUnknown runs a write until it succeeds, retrying (for up to 30 s)
// while its answers leave the outcome unknown; any other answer fails it.
func retryUnknown(write func(retry bool) (bool, reply), what string) error {
	deadline := time.Now().Add(30 * time.Second)
	for retry := false; ; retry = true {
		ok, r := write(retry)
		switch {
		case ok:
			return nil
		case !r.unknown() || time.Now().After(deadline):
			return fmt.Errorf("%s: %s", what, r)
		}
		time.Sleep(50 * time.Millisecond) // a new leader takes an election timeout or two
	}
}

// children lists a node's children as nd has them locally (stale read).
func children(nd *node, path string, minZxid int64) ([]string, error) {
	q := "?consistency=stale"
	if minZxid > 0 {
		q = fmt.Sprintf("?min_zxid=%d", minZxid)
	}
	r := get(nd, "/v1/children"+path+q, requestTimeout)
	if err := r.want(http.StatusOK); err != nil {
		return nil, err
	}
	var out struct {
		Children []string `json:"children"`
	}
	return out.Children, r.decode(&out)
}

// testingT is what the REST helpers need of a test or benchmark.
type testingT interface {
	Helper()
	Fatalf(format string, args ...any)
}

// metric is the value of one sample line of nd's /metrics, e.g.
// `canopy_forward_streams` or `canopy_forwarded_proposals_total{outcome="ok"}`;
// -1 when it is absent.
func metric(t testing.TB, nd *node, sample string) float64 {
	t.Helper()
	r := get(nd, "/metrics", requestTimeout)
	if r.Status != http.StatusOK {
		t.Fatalf("metrics of %s: %s", nd.id, r)
	}
	for _, line := range strings.Split(string(r.Body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics of %s: %q", nd.id, line)
			}
			return f
		}
	}
	return -1
}
